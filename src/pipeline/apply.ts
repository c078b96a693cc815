import type { GlobalOptions, Io } from './io.js';
import { openSession, type Session } from './session.js';
import { fullPlanOptions, makePlan, type FullPlanChoices } from './make-plan.js';
import type { Plan } from '../model/plan.js';
import type { Observed } from '../model/observed.js';
import { checkSavedNames } from '../apply/saved-plan.js';
import { replanSaved } from './replan-saved.js';
import { checkNowOption, checkPlanInstant } from '../apply/clock.js';
import { printer, type Printer } from './printer.js';
import { readPlanFile } from './planfile.js';
import { applyPlan } from '../apply/apply.js';
import { LvchainError } from '../base/errors.js';
import { writeApplySummary } from './reports.js';
import { lockRequest, stopReason, withStorageLocks } from './locks.js';
import { APPROVAL, confirm, destroysData } from './approval.js';
import type { ApplyOutcome } from '../model/events.js';
import { recordSavedPlan } from './applied.js';

export interface ApplyCommandOptions extends FullPlanChoices {
  json: boolean;
  autoApprove: boolean;
  /** How long to wait for another run's storage lock. */
  lockTimeoutMs: number;
  /** How old a saved plan's instant may be. */
  maxPlanAgeMs: number;
  /** Ctrl-C. */
  signal?: AbortSignal;
}

export async function applyCommand(
  g: GlobalOptions,
  planFile: string | undefined,
  o: ApplyCommandOptions,
  io: Io,
): Promise<number> {
  const p = printer(io, o.json);
  checkNowOption('apply', o.now, io.clock());
  if (planFile !== undefined) return applySaved(g, planFile, o, io, p);
  const session = await openSession(g, io);
  try {
    // Locks first, as Terraform does: a run that waited plans against what the other one left.
    const storages = Object.keys(session.desired.storages);
    return await withStorageLocks(
      session,
      storages,
      lockRequest(o, 'apply', `apply of ${session.desired.source}`),
      io,
      async (locked) => {
        const { plan, observed } = await makePlan(session, {
          ...fullPlanOptions(o, io.clock()),
          ownLockIds: locked.ids,
        });
        p.plan(plan);
        if (plan.errored) return 1;
        if (plan.resource_changes.length === 0) return 0;
        if (!(await confirm(io, o, destroysData(plan), APPROVAL.apply))) {
          io.err('Apply cancelled.');
          return 1;
        }
        const outcome = await execute(
          session,
          plan,
          observed,
          { ...o, signal: locked.signal },
          io,
          p,
          g.config,
        );
        return exitCode(outcome);
      },
    );
  } finally {
    await session.close();
  }
}

function exitCode(outcome: ApplyOutcome): number {
  return outcome.failed.length > 0 || outcome.interrupted ? 1 : 0;
}

async function execute(
  session: Session,
  plan: Plan,
  observed: Observed,
  o: ApplyCommandOptions,
  io: Io,
  p: Printer,
  configName: string,
): Promise<ApplyOutcome> {
  const outcome = await applyPlan(plan, {
    desired: session.desired,
    observed,
    backend: (s) => session.backend(s),
    onEvent: (e) => p.event(e),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!o.json) io.out('');
  p.outcome(plan, outcome, stopReason(o.signal));
  await writeApplySummary(plan, outcome, configName, io);
  return outcome;
}

async function applySaved(
  g: GlobalOptions,
  file: string,
  o: ApplyCommandOptions,
  io: Io,
  p: Printer,
): Promise<number> {
  const saved = await readPlanFile(file);
  checkPlanInstant(file, saved, o.now ?? io.clock(), o.maxPlanAgeMs);
  const session = await openSession(g, io);
  try {
    if (session.config.digest !== saved.config_digest) {
      throw new LvchainError(
        'plan_stale',
        `Saved plan is stale: the config ${session.desired.source} changed since the plan was made`,
        { hints: ['Run "lvchain plan --out FILE" again and review the new plan.'] },
      );
    }
    checkSavedNames(file, saved, session.desired);
    if (saved.errored)
      throw new LvchainError('plan_errored', `the saved plan ${file} has errors and cannot be applied`);
    const perms = { allowDestroy: o.allowDestroy, allowMassDelete: o.allowMassDelete };
    // Verified before taking any lock, so that a refusal touches nothing; again under the lock,
    // so that nothing can change between the check and the apply.
    await replanSaved(session, saved, perms);
    return await withStorageLocks(
      session,
      Object.keys(session.desired.storages),
      lockRequest(o, 'apply', `saved plan ${saved.plan_id}`),
      io,
      async (locked) => {
        const { plan, observed } = await replanSaved(session, saved, perms, locked.ids);
        if (plan.resource_changes.length === 0) {
          p.message('No changes. Your storage matches the configuration.');
          return 0;
        }
        p.plan(plan);
        const outcome = await execute(
          session,
          plan,
          observed,
          { ...o, signal: locked.signal },
          io,
          p,
          g.config,
        );
        await recordSavedPlan(session, saved.plan_id, outcome, io);
        return exitCode(outcome);
      },
    );
  } finally {
    await session.close();
  }
}
