/**
 * Apply of a saved plan (DESIGN §9): plan again at the saved instant and options, with the
 * permissions apply itself was given, and run the re-plan only if the saved plan is exactly it.
 */
import type { Observed } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { fingerprintChanges } from '../observe/fingerprint-diff.js';
import { firstDifference, refuse } from '../apply/saved-plan.js';
import { LvchainError } from '../base/errors.js';
import type { Session } from './session.js';
import { makePlan } from './make-plan.js';
import { appliedBefore } from './applied.js';

export interface SavedPlanPermissions {
  allowDestroy: boolean;
  allowMassDelete: boolean;
}

/**
 * Re-plan at the saved plan's instant and options, with the permissions apply itself was given,
 * and accept the saved plan only if it is that plan. Returns the plan to execute (the re-plan,
 * under the saved plan's id) and the observation it was made from.
 */
export async function replanSaved(
  session: Session,
  saved: Plan,
  perms: SavedPlanPermissions,
  ownLockIds: readonly string[] = [],
): Promise<{ plan: Plan; observed: Observed }> {
  checkPermissions(saved, perms);
  const { plan, observed } = await makePlan(session, {
    now: Date.parse(saved.timestamp),
    mode: 'full',
    allowDestroy: saved.options.allow_destroy && perms.allowDestroy,
    targets: saved.options.targets,
    mergeDirection: saved.options.merge_direction,
    allowMassDelete: (saved.options.allow_mass_delete ?? false) && perms.allowMassDelete,
    ownLockIds,
  });
  if (plan.observed_fingerprint.digest !== saved.observed_fingerprint.digest) {
    const applied = await appliedBefore(session, saved);
    if (applied)
      throw new LvchainError(
        'plan_stale',
        `This plan was already applied at ${applied.applied}${applied.outcome === 'complete' ? '' : ` (that apply ${applied.outcome === 'failed' ? 'failed' : 'was interrupted'})`}; a saved plan applies once`,
        {
          details: { applied },
          hints: ['Run "lvchain plan --out FILE" for what is left to do, review it, and apply that plan.'],
        },
      );
    const changes = fingerprintChanges(saved.observed_fingerprint, plan.observed_fingerprint);
    throw new LvchainError(
      'plan_stale',
      'Saved plan is stale: the storage changed since the plan was made, so it can no longer be applied',
      {
        details: { changes },
        hints: [
          ...changes.slice(0, 20).map((c) => `  ${c}`),
          ...(changes.length > 20 ? [`  … and ${changes.length - 20} more`] : []),
          'Run "lvchain plan --out FILE" again and review the new plan.',
        ],
      },
    );
  }
  if (plan.errored) {
    const guard = plan.diagnostics.find((d) => d.code === 'retention_refused');
    if (guard && saved.options.allow_mass_delete && !perms.allowMassDelete)
      throw refuse(
        `Saved plan refused: it was made with --allow-mass-delete, which ${guard.address ?? 'a policy'} needs (${guard.summary}), and apply was not given --allow-mass-delete`,
        ['Pass --allow-mass-delete to apply as well, after reviewing the plan.'],
      );
    const first = plan.diagnostics.find((d) => d.severity === 'error');
    throw refuse(
      `Saved plan refused: the current config and storage plan with errors${first ? `: ${first.summary}` : ''}`,
    );
  }
  const difference = firstDifference(saved.resource_changes, plan.resource_changes);
  if (difference !== undefined) throw refuse(`Saved plan refused: ${difference}`);
  return { plan: { ...plan, plan_id: saved.plan_id }, observed };
}

/** A permission recorded in the file is a claim: apply must be given the same flag. */
function checkPermissions(saved: Plan, perms: SavedPlanPermissions): void {
  const destroy = saved.resource_changes.find(
    (c) => c.action_reason === 'destroy_requested' || c.operation.op === 'destroy',
  );
  if (destroy && !perms.allowDestroy)
    throw refuse(
      `Saved plan refused: change ${destroy.address} destroys a disk, and apply was not given --allow-destroy`,
      ['Pass --allow-destroy to apply as well, after reviewing the plan.'],
    );
}
