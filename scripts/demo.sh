#!/usr/bin/env bash
# The quickstart: validate → plan → apply → plan on examples/quickstart.yaml, a directory
# storage inside this checkout (.lvchain-lab/), so it needs no LVM and no root beyond
# installing qemu-utils. Each run starts the demo storage afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh demo
npm ci --no-audit --no-fund
rm -rf .lvchain-lab
lvchain() { node dist/cli/index.js -c examples/quickstart.yaml "$@"; }
echo; echo '$ lvchain validate'; lvchain validate
echo; echo '$ lvchain plan'; lvchain plan
echo; echo '$ lvchain apply --auto-approve'; lvchain apply --auto-approve
echo; echo '$ lvchain show vm-900-disk-0'; lvchain show vm-900-disk-0
echo; echo '$ lvchain plan --detailed-exitcode'; lvchain plan --detailed-exitcode
