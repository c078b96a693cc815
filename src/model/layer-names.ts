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

/** Which disk and layer an LV name is; snapshot names are parsed against known disks, longest first (fix #6587). */
export function parseLvName(
  name: string,
  knownDisks: readonly string[],
): { disk: string; ref: LayerRef } | undefined {
  const disks = [...knownDisks].sort((a, b) => b.length - a.length);
  if (name.startsWith('del-')) {
    const inner = parseLvName(name.slice(4), disks);
    if (!inner || inner.ref.role === 'trash') return undefined;
    return { disk: inner.disk, ref: { role: 'trash', of: inner.ref } };
  }
  for (const disk of disks) {
    if (name === `${disk}.qcow2`) return { disk, ref: { role: 'top' } };
    const prefix = `snap_${disk}_`;
    if (name.startsWith(prefix) && name.endsWith('.qcow2')) {
      const snap = name.slice(prefix.length, -'.qcow2'.length);
      if (SNAPSHOT_NAME.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
    }
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

/** Which disk and layer a file name is; known disks are tried longest first. */
export function parseLayerFileName(
  name: string,
  knownDisks: readonly string[],
): { disk: string; ref: LayerRef } | undefined {
  const disks = [...knownDisks].sort((a, b) => b.length - a.length);
  if (name.startsWith('del-')) {
    const inner = parseLayerFileName(name.slice(4), disks);
    if (!inner || inner.ref.role === 'trash') return undefined;
    return { disk: inner.disk, ref: { role: 'trash', of: inner.ref } };
  }
  for (const disk of disks) {
    if (name === `${disk}.qcow2`) return { disk, ref: { role: 'top' } };
    const suffix = `-${disk}.qcow2`;
    if (name.startsWith('snap-') && name.endsWith(suffix)) {
      const snap = name.slice(5, name.length - suffix.length);
      if (SNAPSHOT_NAME.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
    }
  }
  return undefined;
}
