/**
 * Proxmox VE directory layout (reference: proxmox-ve9-volume-chain §1.2): images of
 * `vm-<id>-…` disks live in `<root>/images/<id>/`, the top is `<disk>.qcow2`, a snapshot
 * `snap-<snap>-<disk>.qcow2`. Disks without a VMID get `<root>/images/<disk>/`.
 * lvchain adds `del-<name>` for a layer renamed aside during a merge, and the sidecar
 * `<disk>.lvchain.json` that holds what LVM keeps in tags.
 */
import { join } from 'node:path';
import type { LayerRef } from '../../model/layer.js';
import { vmidOf } from '../../config/names.js';

export function imagesDir(root: string): string {
  return join(root, 'images');
}

export function diskDir(root: string, disk: string): string {
  return join(imagesDir(root), vmidOf(disk) ?? disk);
}

export function sidecarName(disk: string): string {
  return `${disk}.lvchain.json`;
}

export const SIDECAR_SUFFIX = '.lvchain.json';

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

const SNAP = /^[A-Za-z][A-Za-z0-9_-]*$/;

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
      if (SNAP.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
    }
  }
  return undefined;
}
