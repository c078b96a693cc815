/** Disks the planner must leave alone, and the drift and warnings that say why. */
import { placementText, runningElsewhere } from '../model/proxmox.js';
import type { DiskView } from './interpret.js';
import { proxmoxLockText } from './proxmox.js';
import type { StoragePlanner } from './storage-planner.js';

/** Disks of a VM running on another node, drift and in-use disks are reported and left alone. */
export function blockedReason(sp: StoragePlanner, view: DiskView, address: string): string | undefined {
  // Checked first: from this node such a disk cannot even be looked at safely.
  const away = runningElsewhere(sp.observed.disks[view.state.disk]?.proxmoxVms);
  if (away) {
    const summary = `${address} is left alone: ${placementText(away)}, and lvchain never activates, renames or merges a disk of a VM running on another node (routing the change to Proxmox there is later work)`;
    sp.diagnostics.push({ severity: 'warning', code: 'running_elsewhere', summary, address });
    return summary;
  }
  if (view.problems.length > 0) {
    sp.drift.push({
      address,
      storage: sp.storage.name,
      disk: view.state.disk,
      problems: view.problems.map((p) => ({ code: p.code, message: p.message })),
    });
    const summary = `${address} is left alone: ${view.problems[0]?.message}${view.problems.length > 1 ? ` (and ${view.problems.length - 1} more problems)` : ''}`;
    sp.diagnostics.push({ severity: 'warning', summary, address });
    return summary;
  }
  const verdict = sp.observed.disks[view.state.disk]?.engine;
  const locked = proxmoxLockText(verdict);
  if (locked !== undefined) {
    const summary = `${address} is left alone: ${locked}`;
    sp.diagnostics.push({ severity: 'warning', code: 'proxmox_locked', summary, address });
    return summary;
  }
  if (verdict?.kind === 'refused') {
    const summary = `${address} is in use by another process (${verdict.holders.join('; ')}); lvchain changes a disk that is in use only through the VM its config declares (vm:)`;
    sp.diagnostics.push({ severity: 'warning', summary, address });
    return summary;
  }
  return undefined;
}
