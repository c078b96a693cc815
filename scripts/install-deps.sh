#!/usr/bin/env bash
# Installs the Debian packages lvchain needs on this machine, then nothing else.
#
#   scripts/install-deps.sh demo    qemu-utils (qemu-img, qemu-io): enough for the quickstart
#   scripts/install-deps.sh test    also everything the test suite needs, including the LVM
#                                   test host VM (scripts/lab-deps.sh)
#
# As root it installs what is missing with apt-get, non-interactively. As another user it
# only checks, and says exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}

missing=()
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
command -v qemu-io >/dev/null 2>&1 || missing+=(qemu-utils)
if [[ $mode == test ]]; then
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "install-deps: installing ${missing[*]}"
  apt-get update -q </dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

if [[ $mode == test ]]; then
  bash scripts/lab-deps.sh
  command -v terraform >/dev/null 2>&1 ||
    echo "install-deps: terraform is not installed; the Terraform end-to-end test will fail and say so" >&2
fi
echo "install-deps: ok ($mode)"
