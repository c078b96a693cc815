/**
 * The planner: a pure function of (desired, observed, now, options) (DESIGN §5). Every change
 * is computed on a simulated disk state, so a disk's second change starts where its first
 * ends, capacity is known at every step, and the order is deterministic whatever the input
 * order.
 */
import type { CapacityReport, Diagnostic } from '../model/plan.js';
import type { PlanDraft } from './draft.js';
import type { PlanRequest } from './request.js';
import { StoragePlanner, needsOf } from './storage-planner.js';
import { planStorage, planVgCreation } from './storage.js';
import { prospectiveVg } from './sizing.js';
import { capacityDiagnostic, capacityReport } from './capacity.js';
import { selectTargets } from './targets.js';
import { historyDiagnostic, withEstimates } from './time-estimate.js';

export function planChanges(req: PlanRequest): PlanDraft {
  const storages = [
    ...new Set([...Object.keys(req.desired.storages), ...Object.keys(req.observed.storages)]),
  ].sort();
  const all: StoragePlanner[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const name of storages) {
    const desired = req.desired.storages[name];
    const observed = req.observed.storages[name];
    if (!desired) continue;
    if (!observed) {
      diagnostics.push({ severity: 'error', summary: `storage ${name} was not observed` });
      continue;
    }
    if (observed.errors.length > 0) {
      for (const e of observed.errors)
        diagnostics.push({ severity: 'error', summary: `storage ${name}: ${e}` });
      continue;
    }
    const vg =
      desired.kind === 'lvm' && observed.kind === 'lvm' && !observed.exists && desired.pvs.length > 0
        ? prospectiveVg(desired.pvs, observed)
        : undefined;
    if (vg && 'error' in vg) {
      diagnostics.push({
        severity: 'error',
        summary: `volume group ${name} cannot be created: ${vg.error}`,
        detail: 'lvchain creates a VG only on devices with no signature of any kind. Nothing was changed.',
      });
      continue;
    }
    const unusable = historyDiagnostic(name, observed);
    if (unusable) diagnostics.push(unusable);
    const sp = new StoragePlanner(req, desired, vg ? vg.observed : observed);
    if (vg) planVgCreation(sp, vg.devices);
    planStorage(sp);
    all.push(sp);
  }

  const changes = all.flatMap((sp) => sp.changes);
  const selected = selectTargets(changes, req.targets, req.desired, req.observed);
  diagnostics.push(...selected.diagnostics);
  const capacity: CapacityReport[] = [];
  for (const sp of all) {
    const kept = new Set(selected.changes.filter((c) => c.storage === sp.storage.name));
    // Capacity is re-simulated over the selected changes only.
    const deltas = kept.size === sp.changes.length ? sp.deltas : sp.deltasOf(kept);
    const report = { ...capacityReport(sp.observed, sp.storage.reserve, deltas), worst_case: sp.worstCase() };
    capacity.push(report);
    if (!report.ok) diagnostics.push(capacityDiagnostic(report));
  }
  for (const sp of all) diagnostics.push(...sp.diagnostics);
  const errored = diagnostics.some((d) => d.severity === 'error');
  return {
    changes: withEstimates(selected.changes, req.observed.storages),
    drift: all.flatMap((sp) => sp.drift),
    diagnostics,
    capacity,
    ...needsOf(all),
    errored,
    applyable: !errored && selected.changes.length > 0,
  };
}
