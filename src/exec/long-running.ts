/** A started long-lived process (a lock holder) as a handle: its lines, its end, its stop. */
import type { Readable, Writable } from 'node:stream';
import type { LongRunning } from './executor.js';
import { toCommandResult } from './result.js';

/** What lvchain uses of an execa child process. */
interface Child extends PromiseLike<Parameters<typeof toCommandResult>[0]> {
  readonly stdout: Readable | null;
  readonly stdin: Writable | null;
  kill(signal?: NodeJS.Signals): boolean;
}

export function longRunning(
  child: Child,
  run: { argv: readonly string[]; host: string; started: number },
  messages: { endedEarly: (stderr: string) => string; silent: (ms: number) => string },
  children: Set<LongRunning>,
): LongRunning {
  let buffered = '';
  const lines: string[] = [];
  let ended: Error | undefined;
  const waiting = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    for (const wake of waiting) wake();
  });
  void child.then((r) => {
    ended = new Error(messages.endedEarly(String(r.stderr).trim()));
    for (const wake of waiting) wake();
  });
  const line = (index: number) =>
    new Promise<string>((resolve, reject) => {
      const wake = () => {
        const l = lines[index];
        if (l !== undefined) resolve(l);
        else if (ended) reject(ended);
        else return;
        waiting.delete(wake);
      };
      waiting.add(wake);
      wake();
    });
  const exited = Promise.resolve(child.then((r) => toCommandResult(r, run)));
  const handle: LongRunning = {
    line: (index, ms) => withTimeout(line(index), ms, messages.silent(ms)),
    exited,
    stop: async () => {
      children.delete(handle);
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
  children.add(handle);
  return handle;
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
