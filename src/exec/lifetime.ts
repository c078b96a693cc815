/**
 * Local child processes (qemu-img, the ssh clients, lock holders) and the terminal's signals.
 *
 * A terminal sends Ctrl-C's SIGINT to its whole foreground process group. lvchain answers it by
 * stopping after the current step, so the step's own processes must not die of it: they start
 * with SIGINT ignored. Node resets every signal to its default in a child before exec, so the
 * ignoring is done by a tiny sh that then execs the program (same pid, so timeouts and kills
 * still reach it). They stay in lvchain's process group on purpose: a SIGKILL to the group (a
 * supervisor, the crash harness) still ends them, which a detached child would survive.
 *
 * Since they no longer die with the terminal's second Ctrl-C, lvchain ends the ones it started
 * itself before it exits at once (stopChildren).
 */
import type { ResultPromise } from 'execa';
import type { CommandResult } from './executor.js';

/** Absolute, so a PATH without the tool still reaches the check below. */
const SH = '/bin/sh';
/** $0 of the wrapper: its own "not found" line starts with it. */
const NAME = 'lvchain-exec';
const WRAPPER = `trap "" INT; command -v -- "$1" >/dev/null 2>&1 || { printf '%s\\n' "${NAME}: $1: not found" >&2; exit 127; }; exec "$@"`;

/** argv run so that a terminal's Ctrl-C does not reach it. */
export function shielded(argv: readonly string[]): [string, string[]] {
  return [SH, ['-c', WRAPPER, NAME, ...argv]];
}

/** The wrapper could not find the program (exit 127 and its own message). */
export function programMissing(r: Pick<CommandResult, 'exitCode' | 'stderr'>, program: string): boolean {
  return r.exitCode === 127 && r.stderr === `${NAME}: ${program}: not found\n`;
}

const running = new Set<ResultPromise>();

/** Tracks a child until it ends, so that stopChildren can end it. */
export function track<T extends ResultPromise>(child: T): T {
  running.add(child);
  const forget = (): void => void running.delete(child);
  child.then(forget, forget);
  return child;
}

/**
 * Ends every child still running (lvchain is about to exit at once). SIGTERM: qemu-img stops,
 * an ssh client drops its connection and the remote supervisor (exec/ssh.ts) ends the remote
 * process, and a lock holder releases its lock.
 */
export function stopChildren(): number {
  let n = 0;
  for (const child of running) if (child.kill('SIGTERM')) n++;
  running.clear();
  return n;
}
