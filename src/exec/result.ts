/** execa's result as lvchain's one result shape (STYLE 12), for every executor. */
import type { CommandResult } from './executor.js';
import { timedOutMessage } from './bounds.js';

/** The fields of an execa result that lvchain reads. */
interface ExecaOutcome {
  exitCode?: number | undefined;
  stdout?: unknown;
  stderr?: unknown;
  failed: boolean;
  timedOut?: boolean;
}

export function toCommandResult(
  r: ExecaOutcome,
  run: { argv: readonly string[]; host: string; started: number; timeoutMs?: number | undefined },
): CommandResult {
  return {
    argv: [...run.argv],
    host: run.host,
    exitCode: r.exitCode ?? -1,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: r.timedOut
      ? timedOutMessage(run.argv, run.timeoutMs ?? 0)
      : typeof r.stderr === 'string'
        ? r.stderr
        : '',
    durationMs: Math.round(performance.now() - run.started),
    failed: r.failed,
    ...(r.timedOut ? { timedOut: true } : {}),
    // Only when the process could not start or was killed: an exit code says enough otherwise.
    ...(r.failed && r.exitCode === undefined ? { cause: r } : {}),
  };
}
