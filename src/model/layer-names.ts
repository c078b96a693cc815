/**
 * Names of layers on each storage kind (reference: proxmox-ve9-volume-chain §1.1, §1.2).
 * Pure functions of disk and snapshot names, shared by the backends, which create and
 * parse them, and by config validation, which refuses names that two disks would share.
 *
 * - LVM: the top LV is `<disk>.qcow2`, a snapshot LV `snap_<disk>_<snap>.qcow2`.
 * - Directory: images of `vm-<id>-…` disks live in `images/<id>/`, others in
 *   `images/<disk>/`; the top is `<disk>.qcow2`, a snapshot `snap-<snap>-<disk>.qcow2`.
 *
 * lvchain adds `del-<name>` for a layer renamed aside during a merge (Proxmox lists neither).
 */
import type { LayerRef } from './layer.js';
import { SNAPSHOT_NAME, vmidOf } from '../base/names.js';

export function lvName(disk: string, ref: LayerRef): string {
  switch (ref.role) {
    case 'top':
      return `${disk}.qcow2`;
    case 'snapshot':
      return `snap_${disk}_${ref.snap}.qcow2`;
    case 'trash':
      return `del-${lvName(disk, ref.of)}`;
  }
}

/**
 * Which disk and layer an LV name is; snapshot names are parsed against known disks, longest
 * first (fix #6587). A disk name may hold `_`, so each `_` is a place the disk's name could end:
 * tried from the right, which tries the longest disk first, each a set lookup (a plan parses
 * every LV of a VG against every declared disk).
 */
export function parseLvName(name: string, known: ReadonlySet<string>): ParsedLayerName | undefined {
  if (name.startsWith('del-')) return asTrash(parseLvName(name.slice(4), known));
  if (!name.endsWith(QCOW2)) return undefined;
  const stem = name.slice(0, -QCOW2.length);
  // The top's disk name is the whole stem: longer than any snapshot's could be.
  if (known.has(stem)) return { disk: stem, ref: { role: 'top' } };
  if (!stem.startsWith('snap_')) return undefined;
  for (let end = stem.lastIndexOf('_'); end > 5; end = stem.lastIndexOf('_', end - 1)) {
    const disk = stem.slice(5, end);
    const snap = stem.slice(end + 1);
    if (known.has(disk) && SNAPSHOT_NAME.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
  }
  return undefined;
}

/** The folder under `images/` that holds a disk's files. */
export function diskFolderName(disk: string): string {
  return vmidOf(disk) ?? disk;
}

export function layerFileName(disk: string, ref: LayerRef): string {
  switch (ref.role) {
    case 'top':
      return `${disk}.qcow2`;
    case 'snapshot':
      return `snap-${ref.snap}-${disk}.qcow2`;
    case 'trash':
      return `del-${layerFileName(disk, ref.of)}`;
  }
}

/** Which disk and layer a file name is; known disks are tried longest first, as in parseLvName. */
export function parseLayerFileName(name: string, known: ReadonlySet<string>): ParsedLayerName | undefined {
  if (name.startsWith('del-')) return asTrash(parseLayerFileName(name.slice(4), known));
  if (!name.endsWith(QCOW2)) return undefined;
  const stem = name.slice(0, -QCOW2.length);
  if (known.has(stem)) return { disk: stem, ref: { role: 'top' } };
  if (!stem.startsWith('snap-')) return undefined;
  // `snap-<snap>-<disk>`: the disk's name starts after some `-`; the leftmost gives the longest.
  for (let start = stem.indexOf('-', 5); start >= 0; start = stem.indexOf('-', start + 1)) {
    const snap = stem.slice(5, start);
    const disk = stem.slice(start + 1);
    if (known.has(disk) && SNAPSHOT_NAME.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
  }
  return undefined;
}

export interface ParsedLayerName {
  disk: string;
  ref: LayerRef;
}

const QCOW2 = '.qcow2';

/** `del-<name>`: the layer renamed aside; a trash layer of a trash layer is no name lvchain gives. */
function asTrash(inner: ParsedLayerName | undefined): ParsedLayerName | undefined {
  if (!inner || inner.ref.role === 'trash') return undefined;
  return { disk: inner.disk, ref: { role: 'trash', of: inner.ref } };
}
