/** Taking the storage locks around a command that changes storage. */
import type { Session } from './session.js';
import { acquireLock, lockInfoLines, type HeldLock } from '../apply/lock.js';
import type { Io } from './io.js';
import { PVE_LOCK_EXPIRY_S } from '../storage/proxmox/cluster-lock.js';

/** Why a run stopped early, when it was not Ctrl-C: a lost lock, or the reader of the output gone. */
export function stopReason(signal: AbortSignal | undefined): string | undefined {
  return signal?.aborted && typeof signal.reason === 'string' ? signal.reason : undefined;
}

export interface Locked {
  /** Aborts when a lock is lost or the user interrupts; apply stops after the step in flight. */
  signal: AbortSignal;
  ids: string[];
}

export async function withStorageLocks<T>(
  session: Session,
  storages: readonly string[],
  lock: { operation: string; info: string; timeoutMs: number; interrupt?: AbortSignal },
  io: Io,
  fn: (locked: Locked) => Promise<T>,
): Promise<T> {
  const held: HeldLock[] = [];
  const controller = new AbortController();
  try {
    // Always in name order, so two runs that need several storages cannot deadlock.
    for (const storage of [...new Set(storages)].sort()) {
      const target = session.backend(storage).lockTarget();
      const l = await acquireLock({
        ...target,
        operation: lock.operation,
        info: lock.info,
        timeoutMs: lock.timeoutMs,
        onWait: (holder) => {
          io.err(
            `Acquiring the lock of ${storage}: it is held; waiting up to ${Math.round(lock.timeoutMs / 1000)}s.`,
          );
          if (holder) for (const line of lockInfoLines(holder)) io.err(`  ${line}`);
        },
      });
      held.push(l);
      // Said at once: the run may be waiting for approval, or in the middle of a long step.
      const stop = (why: string) => {
        io.err(`\n${io.style.red(`${why}.`)} Stopping after the current step.`);
        controller.abort(why);
      };
      void l.lost.then(stop);
      // On a Proxmox node, each LVM metadata change also takes Proxmox's storage lock (DESIGN §13).
      session.clusterLock(storage)?.configure({
        waitMs: lock.timeoutMs,
        onWait: (holder, waitMs) =>
          io.err(
            holder.kind === 'directory'
              ? `Waiting up to ${Math.round(waitMs / 1000)}s for Proxmox's storage lock ${holder.path}: it is held, last renewed ${holder.ageSeconds}s ago (it expires ${PVE_LOCK_EXPIRY_S}s after its last renewal).`
              : `Waiting up to ${Math.round(waitMs / 1000)}s for Proxmox's storage lock ${holder.path}: a process on the node holds this flock (Proxmox holds it while it changes the storage).`,
          ),
        onExpired: (holder) =>
          io.err(
            `Took over Proxmox's storage lock ${holder.path}: its holder had not renewed it for ${holder.ageSeconds}s and is gone.`,
          ),
        onLost: stop,
      });
    }
    const signal = lock.interrupt ? AbortSignal.any([controller.signal, lock.interrupt]) : controller.signal;
    return await fn({ signal, ids: held.map((h) => h.info.id) });
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
}

/** The lock options of a command: its wait (`--lock-timeout`) and its Ctrl-C signal. */
export function lockRequest(
  o: { lockTimeoutMs: number; signal?: AbortSignal },
  operation: string,
  info: string,
) {
  return { operation, info, timeoutMs: o.lockTimeoutMs, ...(o.signal ? { interrupt: o.signal } : {}) };
}
