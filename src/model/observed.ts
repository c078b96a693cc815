import type { MergeHistory } from './merge-history.js';
import type { LayerRef } from './layer.js';
import type { LayerMeta } from './meta.js';
import type { Extents } from './extents.js';
import type { PveVmPlacement } from './proxmox.js';

/** What the hosts report, parsed. Facts only: chain analysis and decisions live in plan/. */

export interface LayerHeader {
  format: string;
  virtualSize: number;
  clusterSize?: number;
  extendedL2: boolean;
  dirty: boolean;
  corrupt: boolean;
  /** The backing string exactly as stored in the header. */
  backingName?: string;
  backingFormat?: string;
  /** The backing string resolved by qemu-img against the image's directory. */
  backingPath?: string;
  /** An external data file: guest data lives there, not in this image. */
  dataFile?: string;
  /** Header features as qemu-img reports them; absent where this qemu-img does not say. */
  compat?: string;
  lazyRefcounts?: boolean;
  refcountBits?: number;
  compressionType?: string;
  encrypted?: boolean;
  /** Names of persistent dirty bitmaps (incremental backups track writes with them). */
  bitmaps?: string[];
}

/** A header's backing string, resolved against the disk's layer names by the backend layout. */
export type BackingLink =
  | { kind: 'none' }
  | { kind: 'layer'; ref: LayerRef }
  /** Absolute, another disk's, an unparsable name, or a non-qcow2 backing format. */
  | { kind: 'invalid'; name: string; problem: string };

export type HeaderObservation =
  | { state: 'read'; header: LayerHeader; backing: BackingLink }
  /** qemu-img could not open it: unformatted, truncated, or not an image. */
  | { state: 'unreadable'; error: string }
  /** Not read: an inactive LV. Plan never activates anything. */
  | { state: 'not-read'; reason: string }
  /** Another process holds the image lock. */
  | { state: 'in-use'; error: string };

export interface ObservedLayer {
  ref: LayerRef;
  /** The LV or file name. */
  name: string;
  meta?: LayerMeta;
  header: HeaderObservation;
  /** Space it occupies: allocated file bytes, or the LV size. */
  bytes: number;
  /** LV size; undefined on directories, where files grow freely. */
  capacity?: number;
  lv?: { uuid: string; active: boolean; attr: string; tags: string[]; time?: string };
  /** When the LV or file was created (UTC ISO), where the storage records it. */
  born?: string;
  /** When the file was last written (UTC ISO), on directories. */
  modified?: string;
  /** Held open by some process (a device-mapper open count on LVM). */
  open?: boolean;
  /** lvchain metadata that could not be read (a malformed tag). */
  metaProblems?: string[];
  /** Allocated extents of this layer alone, fetched only when a merge needs its cost. */
  extents?: Extents;
  /**
   * Images on the storage outside this disk's chain whose backing file is this layer (a linked
   * clone in another VM's folder, a foreign LV), by path or LV name.
   */
  dependants?: string[];
}

export interface ObservedDisk {
  name: string;
  storage: string;
  /** Every layer found for this disk, in no particular order. */
  layers: ObservedLayer[];
  /** Names of objects tagged for this disk that are not one of its layer names. */
  unplaced?: string[];
  /**
   * Objects of this disk that lvchain will not open or write through (DESIGN §9 "Untrusted
   * inputs"): a layer or image directory that is a link, a FIFO or a device; a corrupt sidecar.
   */
  unsafe?: { code: 'not_regular' | 'bad_sidecar'; message: string }[];
  /** Which engine may change this disk, as the engine selector (engines/select.ts) decided. */
  engine?: EngineVerdict;
  /** On a Proxmox VE node: the VMs whose config lists this disk, and where they run (DESIGN §13). */
  proxmoxVms?: PveVmPlacement[];
}

/** The layers of a disk another process holds open, as observation saw them (open LV, or locked image). */
export function layersHeldOpen(disk: Pick<ObservedDisk, 'layers'>): string[] {
  return disk.layers.filter((l) => l.open || l.header.state === 'in-use').map((l) => l.name);
}

/** An engine that can act on the disk as observed, or the holders that refuse it. */
export type EngineVerdict =
  | { kind: 'engine'; engine: 'offline' }
  | {
      kind: 'engine';
      engine: 'qmp';
      /** The declared VM's QMP socket, whose QEMU holds the disk's layers. */
      socket: string;
      /** Whether that QEMU has the top (by its current name) open: false while a switch is due. */
      topHeld: boolean;
      /** QEMU's version (major.minor): before 8.1 a stream into an image with subclusters crashes it. */
      qemu: string;
      /** Whether it can pause its guest (`stop`): a storage daemon cannot, and a commit of the top needs it. */
      pauses: boolean;
    }
  /**
   * A Proxmox VE VM's disk (`vm: { proxmox }`): Proxmox's qm on the VM's node takes, deletes and
   * rolls back its snapshots, running or not (DESIGN §13).
   */
  | {
      kind: 'engine';
      engine: 'proxmox';
      vmid: number;
      node: string;
      here: boolean;
      /** The VM config's `lock:`: Proxmox is busy with the VM, or an operation of its failed. */
      lock?: string;
    }
  | { kind: 'refused'; holders: string[] };

export interface ForeignObject {
  name: string;
  bytes: number;
  /** Why it is foreign: "no lvchain metadata", "not an lvchain name", … */
  note: string;
  /** An LV active on the host that runs the commands: its header can be read. */
  active?: boolean;
}

export interface Measurement {
  /** `qemu-img measure` → `required` for a new empty image of that size. */
  required: number;
  /** `qemu-img measure` → `fully-allocated`: the most the image can ever need. */
  fullyAllocated: number;
}

interface ObservedStorageBase {
  name: string;
  exists: boolean;
  /** Free and total bytes: VG free/size, or filesystem available/size. */
  free: number;
  size: number;
  disks: Record<string, ObservedDisk>;
  foreign: ForeignObject[];
  /** `qemu-img measure` for the virtual sizes the plan needs, keyed by size in bytes. */
  measurements: Record<number, Measurement>;
  /** Problems that stop any change on this storage. */
  errors: string[];
  /**
   * False while the images outside the disks' chains have not been read for dependants (an
   * LVM plan reads them only when a change touches a layer); absent once read.
   */
  dependantsRead?: false;
  /** The storage's record of its recent merges, for time estimates; absent when there is none. */
  mergeHistory?: MergeHistory;
  /** An applier holds this storage's lock right now (plan takes no lock, but says so). */
  lockHeldBy?: { id: string; operation: string; who: string; created: string } | 'unknown';
}

export interface ObservedVolumeGroup extends ObservedStorageBase {
  kind: 'lvm';
  extentSize: number;
  mdaFree: number;
  mdaSize: number;
  lvCount: number;
  /** For a VG that is absent and declared with `pvs:`: what each device holds. */
  devices?: { path: string; signatures: string[]; size: number; exists: boolean }[];
  /**
   * For a VG that exists: the devices in `pvs:` that are not its PVs, with the VG a device
   * belongs to instead, if any. lvchain does not extend a VG, so the plan refuses them.
   */
  notMembers?: { path: string; vg?: string }[];
  /** The VG's host is a Proxmox VE node (DESIGN §13): the storage IDs whose locks lvchain takes. */
  proxmox?: { root: string; detected: boolean; pmxcfs: boolean; storageIds: string[] };
}

export interface ObservedDirectory extends ObservedStorageBase {
  kind: 'dir';
  path: string;
}

export type ObservedStorage = ObservedVolumeGroup | ObservedDirectory;

export interface Observed {
  storages: Record<string, ObservedStorage>;
}
