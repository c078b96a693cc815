#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt as root, npm ci),
# then lint, format and type checks, then every test: unit, integration on real qemu-img,
# LVM in the test host VM over ssh, GitOps pipelines, Terraform end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh test
npm ci --no-audit --no-fund
npm ci --no-audit --no-fund --prefix stacks
npm run lint
npm run typecheck
npx vitest run
