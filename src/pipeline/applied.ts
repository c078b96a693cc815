/**
 * The record of applied saved plans on each storage (apply/applied-plans.ts): written after a
 * saved plan ran, read when a saved plan turns out stale, to tell "already applied" apart.
 */
import type { ApplyOutcome } from '../model/events.js';
import type { Plan } from '../model/plan.js';
import { findApplied, recordApplied, type AppliedPlan } from '../apply/applied-plans.js';
import { isoSeconds } from '../base/instants.js';
import type { Io } from './io.js';
import type { Session } from './session.js';

/** Under the storage locks, after the run: every storage the saved plan observed records it. */
export async function recordSavedPlan(
  session: Session,
  planId: string,
  outcome: ApplyOutcome,
  io: Io,
): Promise<void> {
  const entry: AppliedPlan = {
    plan_id: planId,
    applied: isoSeconds(io.clock()),
    outcome: outcome.interrupted ? 'interrupted' : outcome.failed.length > 0 ? 'failed' : 'complete',
  };
  for (const storage of Object.keys(session.desired.storages).sort()) {
    const { exec, path } = session.backend(storage).lockTarget();
    // Only the wording of a later refusal depends on it: a plan applies once either way.
    await recordApplied(exec, path, entry).catch((e: unknown) =>
      io.err(`Note: could not record plan ${planId} as applied on ${storage}: ${String(e)}`),
    );
  }
}

/** Where and when a saved plan was applied before, if any storage recorded it. */
export async function appliedBefore(session: Session, saved: Plan): Promise<AppliedPlan | undefined> {
  for (const storage of Object.keys(saved.observed_fingerprint.storages).sort()) {
    if (!Object.hasOwn(session.desired.storages, storage)) continue;
    const { exec, path } = session.backend(storage).lockTarget();
    const found = await findApplied(exec, path, saved.plan_id);
    if (found) return found;
  }
  return undefined;
}
