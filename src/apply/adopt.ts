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
  const result = adoptDisk(observed, sizing, desired.disks[change.disk]);
  if (!result.ok) throw new LvchainError('drift', `${result.problems[0]}; the disk is left alone`);
  const planned = change.x_steps.map((s) => s.step);
  if (!sameSteps(planned, result.steps))
    throw new LvchainError(
      'plan_stale',
      change.operation.op === 'adopt'
        ? `the disk changed since it was checked for import; nothing was done to it. Run "lvchain import" again.`
        : `the disk changed since the plan; nothing was done to it. Run "lvchain plan" again.`,
    );
  return planned;
}
