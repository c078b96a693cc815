import type { Duplex } from 'node:stream';
import { execa } from 'execa';
import { stat } from 'node:fs/promises';
import type {
  BatchCommand,
  CommandEvent,
  CommandResult,
  Executor,
  LongRunning,
  RunOptions,
} from './executor.js';
import { LvchainError } from '../base/errors.js';
import { batchArgv, missingUnderStdbuf, packageFor } from './executor.js';
import { programMissing, shielded, track } from './lifetime.js';
import { boundOf } from './bounds.js';
import { toCommandResult } from './result.js';
import { longRunning } from './long-running.js';
import { connectLocal } from './unix-socket.js';

/** Runs commands on this machine with execa. */
export class LocalExecutor implements Executor {
  readonly host = 'local';
  private readonly listeners: ((e: CommandEvent) => void)[];
  private readonly children = new Set<LongRunning>();

  constructor(listeners: ((e: CommandEvent) => void)[] = []) {
    this.listeners = listeners;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const [file] = argv;
    if (file === undefined) throw new Error('empty command');
    const started = performance.now();
    const bound = opts.timeoutMs ?? boundOf(argv);
    const child = track(
      execa(...shielded(argv), {
        reject: false,
        input: opts.input,
        timeout: bound,
        stripFinalNewline: false,
        env: { LC_ALL: 'C' },
      }),
    );
    if (opts.onStdout) {
      const listen = opts.onStdout;
      child.stdout?.on('data', (chunk: Buffer) => listen(chunk.toString('utf8')));
    }
    const r = await child;
    const exit = { exitCode: r.exitCode ?? -1, stderr: String(r.stderr) };
    const missing = programMissing(exit, file) ? file : missingUnderStdbuf(exit);
    if (missing !== undefined) {
      const pkg = packageFor(missing);
      throw new LvchainError(
        'tool_missing',
        `${missing} is not installed on this machine${pkg ? ` (Debian package ${pkg})` : ''}`,
        {
          details: { tool: missing, host: 'local' },
        },
      );
    }
    const result = toCommandResult(r, { argv, host: this.host, started, timeoutMs: bound });
    for (const l of this.listeners)
      l({ host: this.host, argv: result.argv, exitCode: result.exitCode, durationMs: result.durationMs });
    return result;
  }

  async runBatch(commands: readonly BatchCommand[]): Promise<CommandResult[]> {
    // Locally there is no round trip to save; a small pool keeps both cores busy.
    const results: CommandResult[] = new Array(commands.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < commands.length) {
        const i = next++;
        const c = commands[i] as BatchCommand;
        results[i] =
          'ifDirectory' in c && !(await isDirectory(c.ifDirectory))
            ? {
                argv: [...c.argv],
                host: this.host,
                exitCode: 1,
                stdout: '',
                stderr: '',
                durationMs: 0,
                failed: true,
              }
            : await this.run(batchArgv(c));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return results;
  }

  async spawn(argv: readonly string[]): Promise<LongRunning> {
    const [file] = argv;
    if (file === undefined) throw new Error('empty command');
    const started = performance.now();
    const child = track(
      execa(...shielded(argv), {
        reject: false,
        stdin: 'pipe',
        stripFinalNewline: false,
        env: { LC_ALL: 'C' },
      }),
    );
    return longRunning(
      child,
      { argv, host: this.host, started },
      {
        endedEarly: (stderr) => `${file} ended before it was ready: ${stderr}`,
        silent: (ms) => `${file} did not answer within ${ms} ms`,
      },
      this.children,
    );
  }

  openSocket(path: string, timeoutMs: number): Promise<Duplex> {
    return connectLocal(path, timeoutMs);
  }

  async close(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
