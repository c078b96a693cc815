/**
 * A policy's snapshot hooks (issue 12): the admin's commands that quiesce an application, run on
 * the storage's host once around a snapshot's group. A pre-hook that fails or outlives its time
 * skips the snapshot; the post-hook runs whenever the pre-hook did, so what it froze is thawed.
 */
import type { Executor } from '../exec/executor.js';
import type { PlannedHooks } from '../model/plan.js';
import { displayArgv } from '../base/quote.js';

/** coreutils timeout's exit code when it stopped the command, and 128 + 9 when it had to kill it. */
const TIMED_OUT = [124, 137];
const KILL_AFTER_S = 5;

/** Run one hook; undefined when it succeeded (or there is none), else what went wrong. */
export async function runHook(
  exec: Executor,
  hooks: PlannedHooks,
  which: 'pre' | 'post',
): Promise<string | undefined> {
  const argv = hooks[which];
  if (!argv) return undefined;
  const env = Object.entries(hooks.env).map(([k, v]) => `${k}=${v}`);
  const what = `the ${which}-snapshot hook ${displayArgv(argv)} on ${exec.host}`;
  // timeout ends the hook's whole process group on the host (a script's children too, which
  // would hold its output open); lvchain's own limit is the backstop.
  const seconds = Math.ceil(hooks.timeout_ms / 1000);
  const limited = ['timeout', '-k', String(KILL_AFTER_S), `${seconds}s`, 'env', ...env, ...argv];
  const r = await exec
    .run(limited, { timeoutMs: (seconds + KILL_AFTER_S + 5) * 1000, ownConnection: true })
    .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  if (r instanceof Error) return `${what} could not run: ${r.message}`;
  if (!r.failed) return undefined;
  const why =
    r.timedOut || TIMED_OUT.includes(r.exitCode)
      ? `did not finish within ${seconds} s and was stopped`
      : `exited with ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`;
  return `${what} ${why}`;
}
