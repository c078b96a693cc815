import type { GlobalOptions, Io } from './io.js';
import { openSession } from './session.js';
import { makePlan } from './make-plan.js';
import { printer } from './printer.js';
import { applyPlan } from '../apply/apply.js';
import { APPROVAL, confirm, destroysData } from './approval.js';
import { lockRequest, stopReason, withStorageLocks } from './locks.js';
import { LvchainError } from '../base/errors.js';

export async function rollbackCommand(
  g: GlobalOptions,
  disk: string,
  snap: string,
  o: {
    discardNewer: boolean;
    autoApprove: boolean;
    json: boolean;
    planOnly: boolean;
    lockTimeoutMs: number;
    signal?: AbortSignal;
  },
  io: Io,
): Promise<number> {
  const session = await openSession(g, io);
  try {
    const declared = session.desired.disks[disk];
    if (!declared)
      throw new LvchainError('not_found', `disk ${disk} is not declared in ${session.desired.source}`);
    return await withStorageLocks(
      session,
      [declared.storage],
      lockRequest(o, 'rollback', `rollback of ${disk} to ${snap}`),
      io,
      async (locked) => {
        const { plan, observed } = await makePlan(session, {
          ownLockIds: locked.ids,
          now: io.clock(),
          mode: 'rollback',
          allowDestroy: false,
          targets: [],
          mergeDirection: 'auto',
          rollback: { disk, snap, discardNewer: o.discardNewer },
        });
        const p = printer(io, o.json);
        p.plan(plan);
        if (plan.errored || plan.resource_changes.length === 0) return 1;
        if (o.planOnly) return 2;
        if (!(await confirm(io, o, destroysData(plan), APPROVAL.rollback))) {
          io.err('Rollback cancelled.');
          return 1;
        }
        const outcome = await applyPlan(plan, {
          desired: session.desired,
          observed,
          backend: (s) => session.backend(s),
          onEvent: (e) => p.event(e),
          signal: locked.signal,
        });
        p.outcome(plan, outcome, stopReason(locked.signal));
        return outcome.failed.length > 0 || outcome.interrupted ? 1 : 0;
      },
    );
  } finally {
    await session.close();
  }
}
