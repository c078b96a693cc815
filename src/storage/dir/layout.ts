/**
 * Proxmox VE directory layout (reference: proxmox-ve9-volume-chain §1.2): images of
 * `vm-<id>-…` disks live in `<root>/images/<id>/`, the top is `<disk>.qcow2`, a snapshot
 * `snap-<snap>-<disk>.qcow2`. Disks without a VMID get `<root>/images/<disk>/`.
 * lvchain adds `del-<name>` for a layer renamed aside during a merge, and the sidecar
 * `<disk>.lvchain.json` that holds what LVM keeps in tags.
 */
import { join } from 'node:path';
import { diskFolderName } from '../../model/layer-names.js';

export function imagesDir(root: string): string {
  return join(root, 'images');
}

export function diskDir(root: string, disk: string): string {
  return join(imagesDir(root), diskFolderName(disk));
}

export function sidecarName(disk: string): string {
  return `${disk}.lvchain.json`;
}

export const SIDECAR_SUFFIX = '.lvchain.json';

/** Where removed layers wait for their blocks to be freed (trash.ts). */
export const TRASH_DIR = '.lvchain-trash';

export { layerFileName, parseLayerFileName } from '../../model/layer-names.js';
