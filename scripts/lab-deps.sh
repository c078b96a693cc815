#!/usr/bin/env bash
# Installs the Debian packages the LVM test host VM ("lab", test/lab/) and the live test
# guest (test/guest/) need on this host.
#
#   scripts/lab-deps.sh            install what is missing (needs root if anything is)
#   scripts/lab-deps.sh --check    only report; exit 1 if something is missing
#
# Works non-interactively (CI=true, no stdin). The guest kernel
# (linux-image-cloud-amd64) is NOT installed here: test/lab/build.ts fetches it with
# `apt-get download` into the lab cache and unpacks it with `dpkg -x`; the guest agent
# (qemu-guest-agent) is fetched the same way by test/guest/build.ts, so no agent runs on
# this host. This script only makes sure apt's package lists know them.
set -euo pipefail

# package -> a file that proves it is installed (checked as well as dpkg's status)
PACKAGES=(
  "qemu-system-x86:/usr/bin/qemu-system-x86_64" # TCG-booted guest
  "qemu-utils:/usr/bin/qemu-img"                # qemu-img, qemu-io (host and guest copies)
  "lvm2:/sbin/lvm"                              # lvm + dmsetup copied into the guest
  "dmsetup:/sbin/dmsetup"
  "dropbear-bin:/usr/sbin/dropbear"             # guest ssh server, dropbearkey for its host key
  "busybox-static:/bin/busybox"                 # guest userland (sh, ip, insmod, init, dd, od ...)
  "util-linux:/usr/bin/flock"                   # blkdiscard, wipefs, flock (guest), setpriv (host)
  "openssh-client:/usr/bin/ssh"                 # ssh, ssh-keygen
  "libc-bin:/usr/bin/ldd"                       # resolves the shared libraries to copy
  "xz-utils:/usr/bin/xz"                        # decompress .ko.xz kernel modules, if any
  "zstd:/usr/bin/zstd"                          # decompress .ko.zst kernel modules, if any
  "e2fsprogs:/sbin/mkfs.ext4"                   # live-guest rig: mkfs.ext4, fsck.ext4, debugfs
  "qemu-system-common:/usr/bin/qemu-storage-daemon" # a VM's QEMU inside the lab (live LVM, pve2)
  "socat:/usr/bin/socat"                        # reaches a QMP socket over ssh, as on Proxmox hosts
)
KERNEL_META=linux-image-cloud-amd64
AGENT=qemu-guest-agent

check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

missing=()
for entry in "${PACKAGES[@]}"; do
  pkg=${entry%%:*}
  file=${entry#*:}
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" || ! -e "$file" ]]; then
    missing+=("$pkg")
  fi
done

kernel_known() {
  local info agent
  info=$(apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null || true)
  agent=$(apt-cache show --no-all-versions "$AGENT" 2>/dev/null || true)
  [[ "$info" == *$'\n'Depends:*linux-image-* && "$agent" == *$'\n'Version:* ]]
}

need_update=0
kernel_known || need_update=1

if ((${#missing[@]} == 0 && need_update == 0)); then
  echo "lab-deps: all host packages present; apt knows $KERNEL_META and $AGENT"
  exit 0
fi

if ((check_only)); then
  ((${#missing[@]})) && echo "lab-deps: missing Debian packages: ${missing[*]}" >&2
  ((need_update)) && echo "lab-deps: apt lists do not know $KERNEL_META or $AGENT (run apt-get update)" >&2
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  {
    echo "lab-deps: not root, cannot install."
    ((${#missing[@]})) && echo "  missing Debian packages: ${missing[*]}"
    ((${#missing[@]})) && echo "  run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    ((need_update)) && echo "  apt's lists do not know $KERNEL_META or $AGENT: run 'apt-get update' as root"
  } >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "lab-deps: apt-get update"
apt-get update -q </dev/null

if ((${#missing[@]})); then
  echo "lab-deps: installing ${missing[*]}"
  apt-get install "${APT_OPTS[@]}" --no-install-recommends "${missing[@]}" </dev/null
fi

if ! kernel_known; then
  echo "lab-deps: apt still does not know $KERNEL_META or $AGENT after apt-get update" >&2
  exit 1
fi

still=()
for entry in "${PACKAGES[@]}"; do
  [[ -e "${entry#*:}" ]] || still+=("${entry%%:*}")
done
if ((${#still[@]})); then
  echo "lab-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "lab-deps: done"
