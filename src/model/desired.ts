/** What the config declares, normalised: names resolved, sizes in bytes, defaults applied. */
import { diskAddress, guestAddress } from './address.js';

export type WipeMode = 'none' | 'zeroout-on-free' | 'zeroout-on-create';
export type KnownHostsPolicy = 'strict' | 'accept-new' | 'off';

export interface SshTarget {
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
  knownHosts: KnownHostsPolicy;
  knownHostsFile?: string;
}

/**
 * Whether a host is a Proxmox VE node (DESIGN §13): declared with its cluster file system's
 * root, declared not to be one, or detected when the default root exists there.
 */
export type ProxmoxNodeSetting =
  | {
      kind: 'declared';
      root: string;
      /** Its Proxmox node name: lvchain asks this host about the VMs .vmlist places on that node. */
      node?: string;
    }
  | { kind: 'off' }
  | { kind: 'detect' };

/** Where a Proxmox node keeps its cluster file system unless the config says otherwise. */
export const PROXMOX_ROOT = '/etc/pve';

export interface DesiredHost {
  name: string;
  ssh: SshTarget;
  proxmox: ProxmoxNodeSetting;
}

export interface SnapshotHooks {
  pre?: string[];
  post?: string[];
  timeoutMs: number;
}

/** A daily window, in a policy's time zone; it may cross midnight. */
export interface MergeWindow {
  /** Minutes after local midnight. */
  start: number;
  end: number;
  /** As written, e.g. "01:00-05:00". */
  text: string;
}

export type Reserve = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number };

export interface DesiredVolumeGroup {
  kind: 'lvm';
  name: string;
  /** Host name from `hosts:`; undefined = local. */
  host?: string;
  pvs: string[];
  reserve: Reserve;
  wipe: WipeMode;
  /** Bytes per second a merge may move; undefined = unlimited. */
  mergeRate?: number;
}

export interface DesiredDirectory {
  kind: 'dir';
  name: string;
  /** Absolute path, resolved against the config file's directory. */
  path: string;
  reserve: Reserve;
  /** Bytes per second a merge may move; undefined = unlimited. */
  mergeRate?: number;
}

export type DesiredStorage = DesiredVolumeGroup | DesiredDirectory;

export interface RetentionRules {
  last?: number;
  /** Milliseconds. */
  within?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

export interface DesiredPolicy {
  name: string;
  timezone: string;
  schedule?: string;
  retention: RetentionRules;
  maxChainDepth: number;
  maxDeletesPerRun: number;
  /** Merges wait outside this daily window (in `timezone`); undefined = any time. */
  mergeWindow?: MergeWindow;
  /** Commands run around each snapshot of the policy's guests and disks. */
  hooks?: SnapshotHooks;
  /** `check` thresholds: how many schedule periods old the newest snapshot may be. */
  check: { warn: number; crit: number };
  /** Others' snapshots whose names match this regular expression (`u` flag) are the policy's. */
  adopt?: string;
}

/** How lvchain reaches the running VM of a guest or disk (DESIGN §12). */
export interface DesiredVm {
  /** QEMU's QMP socket on the storage's host. */
  qmp: string;
  /** The guest agent's socket on the storage's host. */
  agent?: string;
  /** required: no snapshot without a freeze; try: crash-consistent with a warning; off: never freeze. */
  freeze: 'required' | 'try' | 'off';
}

export interface DesiredDisk {
  name: string;
  storage: string;
  size: number;
  protect: boolean;
  /** The snapshot group: the guest name, or undefined for a standalone disk. */
  guest?: string;
  policy?: string;
  /** Pinned snapshot names, sorted. */
  pinned: string[];
  /** The VM that may hold this disk open: its guest's, or the disk's own. */
  vm?: DesiredVm;
  /** The VMID of the Proxmox VE VM that owns this disk: its guest's, or the disk's own. */
  proxmoxVm?: number;
}

export interface DesiredGuest {
  name: string;
  storage: string;
  policy?: string;
  disks: string[];
  pinned: string[];
  vm?: DesiredVm;
  /** The VMID of the Proxmox VE VM these disks belong to (`vm: { proxmox: <vmid> }`). */
  proxmoxVm?: number;
}

export interface Desired {
  /** Absolute path of the config file, for messages. */
  source: string;
  hosts: Record<string, DesiredHost>;
  storages: Record<string, DesiredStorage>;
  policies: Record<string, DesiredPolicy>;
  guests: Record<string, DesiredGuest>;
  disks: Record<string, DesiredDisk>;
}

/** The group a disk is snapshotted with: its guest, or the disk alone. */
export function snapshotGroupOf(disk: DesiredDisk): string {
  return disk.guest !== undefined ? guestAddress(disk.guest) : diskAddress(disk.name);
}
