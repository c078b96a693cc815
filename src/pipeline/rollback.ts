import type { GlobalOptions, Io } from './io.js';
import { openSession } from './session.js';
import { makePlan } from './make-plan.js';
import { printer } from './printer.js';
import { applyPlan } from '../apply/apply.js';
import { APPROVAL, confirm, destroysData } from './approval.js';
import { lockRequest, stopReason, withStorageLocks } from './locks.js';
import { LvchainError } from '../base/errors.js';
import { closest } from '../base/names.js';
import type { Desired } from '../model/desired.js';

export async function rollbackCommand(
  g: GlobalOptions,
  name: string,
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
    const target = rollbackTarget(session.desired, name);
    return await withStorageLocks(
      session,
      [target.storage],
      lockRequest(o, 'rollback', `rollback of ${name} to ${snap}`),
      io,
      async (locked) => {
        const { plan, observed } = await makePlan(session, {
          ownLockIds: locked.ids,
          now: io.clock(),
          mode: 'rollback',
          allowDestroy: false,
          targets: [],
          mergeDirection: 'auto',
          rollback: {
            disks: target.disks,
            snap,
            discardNewer: o.discardNewer,
            ...(target.guest !== undefined ? { guest: target.guest } : {}),
          },
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

/** A guest (all its disks, together) or one declared disk; anything else is named as unknown. */
function rollbackTarget(
  desired: Desired,
  name: string,
): { disks: string[]; storage: string; guest?: string } {
  const guest = desired.guests[name];
  if (guest) return { disks: [...guest.disks], storage: guest.storage, guest: guest.name };
  const disk = desired.disks[name];
  if (disk) return { disks: [name], storage: disk.storage };
  const near = closest(name, [...Object.keys(desired.guests), ...Object.keys(desired.disks)]);
  throw new LvchainError(
    'not_found',
    `${name} is neither a guest nor a disk declared in ${desired.source}${near ? `; did you mean "${near}"?` : ''}`,
  );
}
