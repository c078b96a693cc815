/**
 * The read-only half of the storage lock (apply/lock.ts holds it): the probe that says who holds
 * a storage's lock, sent with observation, and the holder's info file format. It sits below
 * apply so a storage driver can fold the probe into its first round trip.
 */
import { z } from 'zod';
import type { CommandResult } from '../exec/executor.js';
import type { ObservedStorage } from '../model/observed.js';

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

/** Exit code of the lock shell when flock is missing (as the shell's own "not found"). */
export const MISSING = 127;

// Without it `flock -n` fails like a held lock, and every run would blame a holder.
export const FLOCK_PRESENT = `command -v flock >/dev/null 2>&1 || { echo "lvchain-lock: flock: not found" >&2; exit ${MISSING}; }`;

/** `cat` of the info file only if it is a plain file: a FIFO there would hang the reader. */
export const SHOW_INFO = 'if [ -f "$2" ] && [ ! -L "$2" ]; then cat "$2" 2>/dev/null; fi';

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

/** The argv of a lock probe, to send in a batch with other observation commands. */
export function probeArgv(path: string): string[] {
  return ['sh', '-c', PROBE, 'lvchain-probe', path, `${path}.info`];
}

export function parseProbe(stdout: string): LockInfo | 'held-unknown' | undefined {
  const [head, ...rest] = stdout.split('\n');
  if (head !== 'HELD') return undefined;
  return parseInfo(rest.join('\n')) ?? 'held-unknown';
}

export function parseInfo(text: string): LockInfo | undefined {
  const line = text.trim().split('\n')[0];
  if (!line) return undefined;
  try {
    const parsed = lockInfoSchema.safeParse(JSON.parse(line));
    return parsed.success ? (parsed.data as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

/** The lock probe's answer as an observation: who holds the storage's lock, if anyone. */
export function lockState(probe: CommandResult): Pick<ObservedStorage, 'lockHeldBy'> {
  if (probe.failed) return {};
  const held = parseProbe(probe.stdout);
  if (held === undefined) return {};
  if (held === 'held-unknown') return { lockHeldBy: 'unknown' };
  return { lockHeldBy: { id: held.id, operation: held.operation, who: held.who, created: held.created } };
}
