/**
 * Apply's re-observation check for `import` and for a plan's re-derivation after Proxmox changed
 * a chain: the metadata derived again from the disk as found must be what was shown and approved.
 */
import type { Desired } from '../model/desired.js';
import type { ObservedDisk } from '../model/observed.js';
import type { ResourceChange, Step } from '../model/plan.js';
import { adoptDisk } from '../plan/adopt.js';
import { sameSteps } from '../plan/recompute.js';
import type { Sizing } from '../plan/state.js';
import { LvchainError } from '../base/errors.js';

export function recheckAdoption(
  change: ResourceChange,
  observed: ObservedDisk,
  sizing: Sizing,
  desired: Desired,
): Step[] {
  const planned = change.x_steps.map((s) => s.step);
  // The times import read from the VM config are not read again here: the approved ones stand.
  const result = adoptDisk(observed, sizing, desired.disks[change.disk], approvedTimes(planned));
  if (!result.ok) throw new LvchainError('drift', `${result.problems[0]}; the disk is left alone`);
  if (!sameSteps(planned, result.steps))
    throw new LvchainError(
      'plan_stale',
      change.operation.op === 'adopt'
        ? `the disk changed since it was checked for import; nothing was done to it. Run "lvchain import" again.`
        : `the disk changed since the plan; nothing was done to it. Run "lvchain plan" again.`,
    );
  return planned;
}

/** The snapshot times the planned steps write: what the change was approved with. */
function approvedTimes(steps: readonly Step[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps)
    if (s.kind === 'set_meta' && s.meta.snap !== undefined && s.meta.created !== undefined)
      out[s.meta.snap] = s.meta.created;
  return out;
}
