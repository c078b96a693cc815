/**
 * Name rules shared by config validation and observation. They are the intersection of
 * what LVM, qemu-img, Proxmox and a POSIX shell accept without quoting surprises.
 */

/** Snapshot names: Proxmox's pve-configid rule, at most 40 characters (DESIGN §3). */
export const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
export const SNAPSHOT_NAME_MAX = 40;

/**
 * Disk names become LV names `<disk>.qcow2` and `snap_<disk>_<snap>.qcow2` (LVM allows
 * `A-Za-z0-9+_.-`, at most 127 characters, not starting with `-`) and file names.
 * Proxmox's parse_lvm_name additionally wants alphanumerics at both ends.
 */
export const DISK_NAME = /^[a-z0-9][a-z0-9_.-]*[a-z0-9]$/i;
export const DISK_NAME_MAX = 80;

/** Names of hosts, storages, policies and guests: identifiers used in addresses and tags. */
export const OBJECT_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const OBJECT_NAME_MAX = 64;

/** LVM VG names: `A-Za-z0-9+_.-`, not starting with `-`, not `.` or `..`. */
export const VG_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;

export function describeNameRule(kind: 'snapshot' | 'disk' | 'object' | 'vg'): string {
  switch (kind) {
    case 'snapshot':
      return `a letter, then letters, digits, "_" or "-", at most ${SNAPSHOT_NAME_MAX} characters`;
    case 'disk':
      return `letters, digits, "_", "." or "-", starting and ending with a letter or digit, at most ${DISK_NAME_MAX} characters`;
    case 'object':
      return `a letter, then letters, digits, "_", "." or "-", at most ${OBJECT_NAME_MAX} characters`;
    case 'vg':
      return 'letters, digits, "+", "_", "." or "-", not starting with "-"';
  }
}

/** Proxmox VMID of a `vm-<id>-…` or `base-<id>-…` disk, used for tags and directory layout. */
export function vmidOf(disk: string): string | undefined {
  return /^(?:vm|base)-(\d+)-/.exec(disk)?.[1];
}
