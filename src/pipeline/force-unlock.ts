import type { GlobalOptions, Io } from './io.js';
import { openSession } from './session.js';
import { forceUnlock, lockInfoLines, probeLock } from '../apply/lock.js';
import { LvchainError } from '../base/errors.js';
import { APPROVAL, confirm } from './approval.js';

/**
 * `lvchain force-unlock <ID>`: release a storage lock whose holder is stuck, by ending the
 * process that holds it on the storage's host. The run that held it stops after its step in
 * flight, and its interrupted operation can be resumed by the next apply.
 */
export async function forceUnlockCommand(
  g: GlobalOptions,
  id: string,
  o: { force: boolean },
  io: Io,
): Promise<number> {
  const session = await openSession(g, io);
  try {
    for (const storage of Object.keys(session.desired.storages).sort()) {
      const { exec, path } = session.backend(storage).lockTarget();
      const holder = await probeLock(exec, path);
      if (holder === undefined || holder === 'held-unknown' || holder.id !== id) continue;
      io.out(`The lock of ${storage} is held:`);
      for (const line of lockInfoLines(holder)) io.out(`  ${line}`);
      io.out(
        'Releasing it ends the run that holds it after its current step. Only do this if that run is stuck or gone.',
      );
      if (!(await confirm(io, { autoApprove: o.force, json: false }, true, APPROVAL.forceUnlock))) {
        io.err('Force-unlock cancelled.');
        return 1;
      }
      const r = await forceUnlock(exec, path, id);
      if (r !== 'released')
        throw new LvchainError(
          'lock_not_found',
          `lock ${id} was ${r === 'not-held' ? 'released meanwhile' : 'replaced by another holder'}`,
        );
      io.out(io.style.green(`Lock ${id} on ${storage} released.`));
      return 0;
    }
    throw new LvchainError(
      'lock_not_found',
      `no storage of ${session.desired.source} is locked with ID ${id}`,
      {
        hints: ['The ID is shown in the "Lock Info" of the run that could not get the lock.'],
      },
    );
  } finally {
    await session.close();
  }
}
