/**
 * What a Proxmox VE node's cluster file system says (DESIGN §13), parsed: the storages of
 * `storage.cfg`, the cluster's VM list `.vmlist`, and a VM's `qemu-server/<vmid>.conf`.
 * Facts only; every entry keeps the line it came from, for messages.
 */

/** One section of `storage.cfg`: `<type>: <id>` and its indented `key value` lines. */
export interface PveStorage {
  type: string;
  id: string;
  /** Line of the section header. */
  line: number;
  vgname?: string;
  path?: string;
  shared: boolean;
  snapshotAsVolumeChain: boolean;
  /** Content types (`images`, `rootdir`, `iso`, …). */
  content: string[];
  /** Nodes the storage is limited to; undefined = every node. */
  nodes?: string[];
  disable: boolean;
  /** Every key as written, the ones above included. */
  options: Record<string, string>;
}

/** One VM or container of `.vmlist`: which node's directory holds its config. */
export interface PveVmListEntry {
  node: string;
  type: 'qemu' | 'lxc';
  version: number;
}

export interface PveVmList {
  version: number;
  ids: Record<string, PveVmListEntry>;
}

/** A disk line of a VM config, e.g. `scsi0: san1:vm-101-disk-0.qcow2,size=32G`. */
export interface PveDiskLine {
  /** `scsi0`, `virtio1`, `efidisk0`, `unused0`, … */
  key: string;
  line: number;
  /** Storage ID and volume name of a storage volume; undefined for `none`, a path or a CD drive without media. */
  volume?: { storage: string; volname: string };
  /** Bytes, from `size=`. */
  size?: number;
  media?: string;
  /** The options after the volume, as written. */
  options: Record<string, string>;
}

/** The main section of a VM config, or one `[snapname]` section. */
export interface PveConfigSection {
  /** Line of the `[name]` header; 1 for the main section. */
  line: number;
  /** The `#` lines at the top of the section, percent-decoded. */
  description?: string;
  /** The snapshot this state descends from. */
  parent?: string;
  /** Seconds since the epoch. */
  snaptime?: number;
  /** The volume holding the saved RAM state (`storage:volname`). */
  vmstate?: string;
  /** An operation in progress: snapshot, snapshot-delete, rollback, backup, migrate, … */
  lock?: string;
  /** `prepare` or `delete` while a snapshot is being made or removed. */
  snapstate?: string;
  runningmachine?: string;
  disks: PveDiskLine[];
  /** Every key as written, the ones above included. */
  options: Record<string, string>;
}

export interface PveVmConfig {
  vmid: number;
  main: PveConfigSection;
  snapshots: Record<string, PveConfigSection>;
}

/** What a lock request sees while someone else holds the lock. */
export type PveLockHolder =
  | PveLockDirectory
  /** The node-local flock of a storage that is not shared: no age, it ends with its holder. */
  | { kind: 'flock'; path: string };

/** The cluster lock directory of a shared storage, as a waiter sees it. */
export interface PveLockDirectory {
  kind: 'directory';
  path: string;
  /** Seconds since the holder last created or renewed it, by the host's clock. */
  ageSeconds: number;
}

/**
 * Where the Proxmox VM that lists a disk runs, as lvchain could find out: the VM's node from
 * `.vmlist`, and `qm status` asked on that node. `unknown` (a node lvchain cannot ask, or an
 * answer it cannot read) is treated as running.
 */
export interface PveVmPlacement {
  vmid: number;
  node: string;
  /** The node is the one that runs the storage's commands. */
  here: boolean;
  state: 'running' | 'stopped' | 'unknown';
  /** Why the state is unknown, for the plan. */
  why?: string;
  /** The config's `lock:`: an operation of Proxmox's in progress, or one that failed. */
  lock?: string;
  /** The snapshots the VM config lists, by name. */
  snapshots: Record<string, PveSnapshotFacts>;
}

/** What a VM config's `[snapshot]` section says of it. */
export interface PveSnapshotFacts {
  /** Seconds since the epoch. */
  snaptime?: number;
  parent?: string;
  /** The volume with the saved RAM state (`storage:volname`). */
  vmstate?: string;
  description?: string;
}

/** The VM that keeps a disk from being changed from this node: one that runs (or may run) on another. */
export function runningElsewhere(vms: readonly PveVmPlacement[] | undefined): PveVmPlacement | undefined {
  return vms?.find((v) => !v.here && v.state !== 'stopped');
}

/** "VM 101 is running on pve2", or why lvchain counts it as running there. */
export function placementText(vm: PveVmPlacement): string {
  return vm.state === 'running'
    ? `VM ${vm.vmid} is running on ${vm.node}`
    : `VM ${vm.vmid} is on ${vm.node} and counts as running there: ${vm.why ?? 'its state is not known'}`;
}
