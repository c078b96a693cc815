/**
 * Proxmox VE 9 LVM layout (reference: proxmox-ve9-volume-chain §1.1): the top LV is
 * `<disk>.qcow2`, a snapshot LV `snap_<disk>_<snap>.qcow2`; disks named `vm-<id>-…` carry
 * the tags `pve-vm-<id>` and `pve-<disk>.qcow2` on every LV of the chain. lvchain adds
 * `del-<name>` for a layer renamed aside during a merge (Proxmox lists neither).
 */
import { vmidOf } from '../../base/names.js';

export { lvName, parseLvName } from '../../model/layer-names.js';

/** Proxmox's own tags for the LVs of a disk; none for names Proxmox would not list. */
export function proxmoxTags(disk: string): string[] {
  const vmid = vmidOf(disk);
  return vmid !== undefined && disk.startsWith('vm-') ? [`pve-vm-${vmid}`, `pve-${disk}.qcow2`] : [];
}
