import type { LayerRef } from './layer.js';
import type { LayerMeta } from './meta.js';
import type { Extents } from './extents.js';

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
  /** Held open by some process (a device-mapper open count on LVM). */
  open?: boolean;
  /** lvchain metadata that could not be read (a malformed tag). */
  metaProblems?: string[];
  /** Allocated extents of this layer alone, fetched only when a merge needs its cost. */
  extents?: Extents;
}

export interface ObservedDisk {
  name: string;
  storage: string;
  /** Every layer found for this disk, in no particular order. */
  layers: ObservedLayer[];
  /** Names of objects tagged for this disk that are not one of its layer names. */
  unplaced?: string[];
}

export interface ForeignObject {
  name: string;
  bytes: number;
  /** Why it is foreign: "no lvchain metadata", "not an lvchain name", … */
  note: string;
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
}

export interface ObservedDirectory extends ObservedStorageBase {
  kind: 'dir';
  path: string;
}

export type ObservedStorage = ObservedVolumeGroup | ObservedDirectory;

export interface Observed {
  storages: Record<string, ObservedStorage>;
}
