/**
 * Proxmox VE 9 LVM layout (reference: proxmox-ve9-volume-chain §1.1): the top LV is
 * `<disk>.qcow2`, a snapshot LV `snap_<disk>_<snap>.qcow2`; disks named `vm-<id>-…` carry
 * the tags `pve-vm-<id>` and `pve-<disk>.qcow2` on every LV of the chain. lvchain adds
 * `del-<name>` for a layer renamed aside during a merge (Proxmox lists neither).
 */
import type { LayerRef } from '../../model/layer.js';
import { vmidOf } from '../../config/names.js';

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

const SNAP = /^[A-Za-z][A-Za-z0-9_-]*$/;

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
      if (SNAP.test(snap)) return { disk, ref: { role: 'snapshot', snap } };
    }
  }
  return undefined;
}

/** Proxmox's own tags for the LVs of a disk; none for names Proxmox would not list. */
export function proxmoxTags(disk: string): string[] {
  const vmid = vmidOf(disk);
  return vmid !== undefined && disk.startsWith('vm-') ? [`pve-vm-${vmid}`, `pve-${disk}.qcow2`] : [];
}
