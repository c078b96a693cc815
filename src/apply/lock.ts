/**
 * One applier per storage at a time (DESIGN §9), across processes and across runners that
 * reach the same host over ssh. The lock is a `flock` held by a small shell on the host that
 * runs the storage's commands, kept alive by lvchain's open pipe: when lvchain dies, or its ssh
 * session does, the pipe closes, the shell exits and the kernel releases the lock. While held,
 * a JSON file beside the lock says who holds it, for waiting runs, `plan` and `force-unlock`.
 */
import { hostname, userInfo } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Executor, LongRunning } from '../exec/executor.js';
import { LvchainError } from '../base/errors.js';
import {
  FLOCK_PRESENT,
  MISSING,
  SHOW_INFO,
  parseInfo,
  parseProbe,
  probeArgv,
  type LockInfo,
} from '../storage/lock-probe.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import { isoSeconds } from '../base/instants.js';

export type { LockInfo };

/** Exit code of the lock shell when the lock is held by someone else. */
const BUSY = 75;

// The storage directory may be writable by others (NFS): nothing planted there is written
// through (DESIGN §9 "Untrusted inputs"). A lock or info path that is a link, a dangling one
// included, is refused. The lock file is created with noclobber, which opens with O_EXCL and so
// never follows a link. It is then opened for appending, not read-only, because NFS emulates
// flock with POSIX locks, which need a writable descriptor; nothing is ever written to it, so a
// link swapped in between the checks and the open can at most make an empty file appear where
// it points. The info file is written under a random name ($4) with noclobber and renamed over
// the old one; rename replaces a link instead of following it.
const HOLD_GUARD = [
  FLOCK_PRESENT,
  'for f in "$1" "$2"; do',
  '  if [ -L "$f" ]; then echo "$f is a symbolic link; lvchain does not follow links on a storage" >&2; exit 1; fi',
  'done',
  'if [ -e "$2" ] && [ ! -f "$2" ]; then echo "$2 is not a regular file" >&2; exit 1; fi',
];

// $1 lock file, $2 info file, $3 info JSON without its pid, $4 random suffix of the temporary
// info file. Prints LOCKED and then becomes `cat`, so one process holds the lock until its stdin
// closes: killing it (force-unlock) or closing the pipe releases it. A stale info file is
// harmless: the flock decides who holds.
const HOLD = [
  'mkdir -p "$(dirname "$1")" || exit 1',
  ...HOLD_GUARD,
  'set -C',
  '[ -e "$1" ] || : > "$1" || exit 1',
  'if [ ! -f "$1" ]; then echo "$1 is not a regular file" >&2; exit 1; fi',
  'exec 9>>"$1" || exit 1',
  `if ! flock -n 9; then echo BUSY; ${SHOW_INFO}; echo; exit ${BUSY}; fi`,
  'printf \'{"pid":%d,%s\\n\' "$$" "${3#?}" > "$2.tmp-$4" && mv -f "$2.tmp-$4" "$2" || exit 1',
  'echo LOCKED',
  'exec cat >/dev/null',
].join('\n');

export interface HeldLock {
  info: LockInfo;
  /** Resolves if the lock is lost while held (the holder was killed, `force-unlock`). */
  lost: Promise<string>;
  release(): Promise<void>;
}

export interface LockRequest {
  exec: Executor;
  path: string;
  operation: string;
  info: string;
  /** How long to wait for a held lock; 0 fails at once. */
  timeoutMs: number;
  onWait?: (holder: LockInfo | undefined) => void;
}

export async function acquireLock(req: LockRequest): Promise<HeldLock> {
  const infoPath = `${req.path}.info`;
  const info: LockInfo = {
    id: randomUUID(),
    path: req.path,
    host: req.exec.host,
    operation: req.operation,
    who: `${safeUser()}@${hostname()}`,
    version: LVCHAIN_VERSION,
    created: isoSeconds(Date.now()),
    info: req.info,
  };
  const deadline = Date.now() + req.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const holder: LongRunning = await req.exec.spawn([
      'sh',
      '-c',
      HOLD,
      'lvchain-lock',
      req.path,
      infoPath,
      JSON.stringify(info),
      randomBytes(12).toString('hex'),
    ]);
    let first: string | undefined;
    try {
      first = await holder.line(0, 30_000);
    } catch {
      first = undefined;
    }
    if (first !== 'LOCKED') {
      // BUSY (then the holder's info), or an error before the first line.
      const ended = await holder.exited;
      if (ended.exitCode === MISSING && ended.stderr.includes('flock: not found')) {
        throw new LvchainError(
          'tool_missing',
          `cannot take the lock ${req.path} on ${req.exec.host}: flock is not installed there (Debian package util-linux)`,
          { details: { tool: 'flock', host: req.exec.host } },
        );
      }
      if (ended.exitCode !== BUSY) {
        await holder.stop();
        throw new LvchainError(
          'command_failed',
          `cannot take the lock ${req.path} on ${req.exec.host}: ${ended.stderr.trim() || first || `exit ${ended.exitCode}`}`,
        );
      }
      const other = parseInfo(ended.stdout.split('\n').slice(1).join('\n'));
      if (Date.now() >= deadline) throw lockHeld(other, req);
      if (attempt === 0) req.onWait?.(other);
      await sleep(Math.min(2000, Math.max(100, deadline - Date.now())));
      continue;
    }
    let released = false;
    const lost = holder.exited.then((r) => {
      if (released) return '';
      const why =
        r.stderr.trim() || 'by "lvchain force-unlock", or because the host or the connection went away';
      return `the storage lock of this run on ${req.path} (${req.exec.host}) was taken away: its holding process ended (${why})`;
    });
    return {
      info,
      lost: lost.then((m) => (m ? m : new Promise<string>(() => undefined))),
      release: async () => {
        released = true;
        await holder.stop();
      },
    };
  }
}

/** Who holds a lock, without taking it (`plan` needs no lock). */
export async function probeLock(
  exec: Executor,
  path: string,
): Promise<LockInfo | 'held-unknown' | undefined> {
  const r = await exec.run(probeArgv(path));
  if (r.failed) return undefined;
  return parseProbe(r.stdout);
}

/**
 * Release a lock held by a process that cannot release it (a hung run on another runner): it
 * kills the holding shell on the host, which releases the flock. The holder's lvchain notices
 * and stops after its current step.
 */
export async function forceUnlock(
  exec: Executor,
  path: string,
  id: string,
): Promise<'released' | 'not-held' | 'other-id'> {
  const holder = await probeLock(exec, path);
  if (holder === undefined) return 'not-held';
  if (holder === 'held-unknown' || holder.id !== id) return 'other-id';
  if (holder.pid) await exec.run(['kill', String(holder.pid)]);
  for (let i = 0; i < 50; i++) {
    if ((await probeLock(exec, path)) === undefined) return 'released';
    await sleep(100);
  }
  throw new LvchainError(
    'command_failed',
    `lock ${id} on ${exec.host} did not go away after its holder (pid ${holder.pid}) was signalled`,
  );
}

export function lockInfoLines(l: LockInfo): string[] {
  return [
    'Lock Info:',
    `  ID:        ${l.id}`,
    `  Path:      ${l.path} on ${l.host}`,
    `  Operation: ${l.operation}`,
    `  Who:       ${l.who}${l.pid ? ` (pid ${l.pid} on that host)` : ''}`,
    `  Version:   ${l.version}`,
    `  Created:   ${l.created}`,
    `  Info:      ${l.info}`,
  ];
}

function lockHeld(holder: LockInfo | undefined, req: LockRequest): LvchainError {
  return new LvchainError('lock_held', `Error acquiring the storage lock ${req.path} on ${req.exec.host}`, {
    details: holder ? { lock: holder } : {},
    hints: [
      ...(holder ? lockInfoLines(holder) : ['The lock is held, but its holder left no information.']),
      '',
      'Another lvchain run is changing this storage. Wait for it (--lock-timeout 10m), or, if',
      `it is stuck, release it with: lvchain force-unlock ${holder?.id ?? '<ID>'}`,
    ],
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
