/**
 * One applier per storage at a time (DESIGN §9), across processes and across runners that
 * reach the same host over ssh. The lock is a `flock` held by a small shell on the host that
 * runs the storage's commands, kept alive by lvchain's open pipe: when lvchain dies, or its ssh
 * session does, the pipe closes, the shell exits and the kernel releases the lock. While held,
 * a JSON file beside the lock says who holds it, for waiting runs, `plan` and `force-unlock`.
 */
import { hostname, userInfo } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Executor, LongRunning } from '../exec/executor.js';
import { LvchainError } from '../base/errors.js';
import { LVCHAIN_VERSION } from '../base/version.js';

export interface LockInfo {
  id: string;
  /** Lock file and the host it is on. */
  path: string;
  host: string;
  operation: string;
  who: string;
  version: string;
  created: string;
  info: string;
  /** PID of the holding shell on that host. */
  pid?: number;
}

const lockInfoSchema = z.looseObject({
  id: z.string(),
  path: z.string(),
  host: z.string(),
  operation: z.string(),
  who: z.string(),
  version: z.string(),
  created: z.string(),
  info: z.string(),
  pid: z.number().optional(),
});

/** Exit code of the lock shell when the lock is held by someone else. */
const BUSY = 75;

/** Exit code of the lock shell when flock is missing (as the shell's own "not found"). */
const MISSING = 127;

// Without it `flock -n` fails like a held lock, and every run would blame a holder.
const FLOCK_PRESENT = `command -v flock >/dev/null 2>&1 || { echo "lvchain-lock: flock: not found" >&2; exit ${MISSING}; }`;

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

/** `cat` of the info file only if it is a plain file: a FIFO there would hang the reader. */
const SHOW_INFO = 'if [ -f "$2" ] && [ ! -L "$2" ]; then cat "$2" 2>/dev/null; fi';

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

// $1 lock file, $2 info file. Prints FREE, or HELD and the holder's info. A lock file that is
// not a plain file was not made by lvchain: taking the lock refuses it, with the reason. The
// probe asks for a shared lock: that works on a read-only descriptor on NFS too, and conflicts
// with the holder's exclusive one all the same.
const PROBE = [
  FLOCK_PRESENT,
  '{ [ -f "$1" ] && [ ! -L "$1" ]; } || { echo FREE; exit 0; }',
  'exec 9<"$1" || { echo FREE; exit 0; }',
  `if flock -n -s 9; then echo FREE; else echo HELD; ${SHOW_INFO}; fi`,
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
    created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
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
      first = await holder.firstLine(30_000);
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
      const why = r.stderr.trim() || 'force-unlock, or the host or the connection went away';
      return `the lock on ${req.path} (${req.exec.host}) was lost: its holding process ended (${why})`;
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
  const r = await exec.run(['sh', '-c', PROBE, 'lvchain-probe', path, `${path}.info`]);
  if (r.failed) return undefined;
  return parseProbe(r.stdout);
}

/** The argv of a lock probe, to send in a batch with other observation commands. */
export function probeArgv(path: string): string[] {
  return ['sh', '-c', PROBE, 'lvchain-probe', path, `${path}.info`];
}

export function parseProbe(stdout: string): LockInfo | 'held-unknown' | undefined {
  const [head, ...rest] = stdout.split('\n');
  if (head !== 'HELD') return undefined;
  return parseInfo(rest.join('\n')) ?? 'held-unknown';
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

function parseInfo(text: string): LockInfo | undefined {
  const line = text.trim().split('\n')[0];
  if (!line) return undefined;
  try {
    const parsed = lockInfoSchema.safeParse(JSON.parse(line));
    return parsed.success ? (parsed.data as LockInfo) : undefined;
  } catch {
    return undefined;
  }
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
