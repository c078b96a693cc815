/**
 * Runs argv on a remote host over OpenSSH. Every argument is quoted for the remote POSIX
 * shell by exec/quote.ts; connections are reused (ControlMaster) and never prompt
 * (BatchMode). A batch of commands travels in one round trip,
 * so a plan's remote command count grows with hosts and storages, not with disks (exec/batch.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { execa } from 'execa';
import type { SshTarget } from '../model/desired.js';
import type {
  BatchCommand,
  CommandEvent,
  CommandResult,
  Executor,
  LongRunning,
  RunOptions,
} from './executor.js';
import { batchArgv, missingUnderStdbuf, packageFor } from './executor.js';
import { shellCommand } from '../base/quote.js';
import { framesToResults, newBatch, parseBatch } from './batch.js';
import { LvchainError } from '../base/errors.js';
import { longRunning } from './long-running.js';
import { programMissing, shielded, track } from './lifetime.js';
import { boundOf, timedOutMessage } from './bounds.js';
import { toCommandResult } from './result.js';
import { relayArgv, relayFault, SocketError } from './unix-socket.js';

/** Exit code ssh itself uses for connection and authentication failures. */
const SSH_FAILED = 255;

/**
 * Runs "$@" and ends it when its stdin, lvchain's end of the session, reaches EOF first: when
 * lvchain is killed or its connection drops. Without this a remote data move runs on
 * unsupervised (qemu-img ignores SIGPIPE and there is no terminal to hang up), holds its LVs
 * open, and the resumed apply fails as "in use" until it ends (measured in the lab VM).
 */
const SUPERVISE = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'c=$!',
  '{ cat <&3; kill -TERM "$c"; } >/dev/null 2>&1 &',
  'w=$!',
  'exec 3<&-',
  'wait "$c"',
  'rc=$?',
  'kill "$w" 2>/dev/null',
  'exit "$rc"',
].join('\n');

export class SshExecutor implements Executor {
  readonly host: string;
  private readonly target: SshTarget;
  private readonly listeners: ((e: CommandEvent) => void)[];
  private controlDir: string | undefined;
  private readonly children = new Set<LongRunning>();

  constructor(target: SshTarget, listeners: ((e: CommandEvent) => void)[] = []) {
    this.target = target;
    this.host = `${target.user ? `${target.user}@` : ''}${target.host}${target.port ? `:${target.port}` : ''}`;
    this.listeners = listeners;
  }

  /** ssh options, without the destination. */
  sshOptions(): string[] {
    this.controlDir ??= mkdtempSync(join(tmpdir(), 'lvchain-ssh-'));
    const t = this.target;
    const opts = [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=4',
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${join(this.controlDir, '%C')}`,
      '-o',
      'ControlPersist=120',
      '-o',
      `StrictHostKeyChecking=${t.knownHosts === 'strict' ? 'yes' : t.knownHosts === 'accept-new' ? 'accept-new' : 'no'}`,
    ];
    if (t.knownHosts === 'off') opts.push('-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR');
    else if (t.knownHostsFile) opts.push('-o', `UserKnownHostsFile=${t.knownHostsFile}`);
    if (t.port !== undefined) opts.push('-p', String(t.port));
    if (t.identityFile !== undefined) opts.push('-i', t.identityFile, '-o', 'IdentitiesOnly=yes');
    if (t.user !== undefined) opts.push('-l', t.user);
    return opts;
  }

  private sshArgv(remote: string, ownConnection = false): string[] {
    const opts = this.sshOptions();
    // A connection of its own: ssh options take the first value given, so these win.
    const own = ownConnection ? ['-o', 'ControlMaster=no', '-o', 'ControlPath=none'] : [];
    return [...own, ...opts, '--', this.target.host, remote];
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    // Long work is tied to the session: its stdin stays open until it ends (see SUPERVISE).
    const supervised = opts.ownConnection === true && opts.input === undefined;
    const remote = shellCommand(supervised ? ['sh', '-c', SUPERVISE, 'lvchain-step', ...argv] : argv);
    const bound = opts.timeoutMs ?? boundOf(argv);
    const child = track(
      execa(...shielded(['ssh', ...this.sshArgv(remote, opts.ownConnection)]), {
        reject: false,
        input: opts.input,
        timeout: bound,
        stripFinalNewline: false,
        ...(opts.input === undefined ? { stdin: supervised ? ('pipe' as const) : ('ignore' as const) } : {}),
      }),
    );
    if (opts.onStdout) {
      const listen = opts.onStdout;
      child.stdout?.on('data', (chunk: Buffer) => listen(chunk.toString('utf8')));
    }
    const r = await child;
    if (supervised) child.stdin?.destroy();
    const result = toCommandResult(r, { argv, host: this.host, started, timeoutMs: bound });
    this.notify(result);
    this.raiseConnectionErrors(result);
    this.raiseMissingTool(result);
    return result;
  }

  async runBatch(commands: readonly BatchCommand[]): Promise<CommandResult[]> {
    if (commands.length === 0) return [];
    const argvs = commands.map(batchArgv);
    const [only] = commands;
    if (commands.length === 1 && only && !('ifDirectory' in only)) return [await this.run(batchArgv(only))];
    const started = performance.now();
    const batch = newBatch();
    const line = (c: BatchCommand) =>
      'ifDirectory' in c
        ? `${shellCommand(['test', '-d', c.ifDirectory])} && ${shellCommand(c.argv)}`
        : shellCommand(c);
    const remote = shellCommand([...batch.shellArgv, ...commands.map(line)]);
    // One round trip: bounded as a whole when every command in it is (a header read is).
    const bounds = argvs.map(boundOf);
    const bound = bounds.every((b) => b !== undefined) ? bounds.reduce((a, b) => a + b, 0) : undefined;
    const r = await track(
      execa(...shielded(['ssh', ...this.sshArgv(remote)]), {
        reject: false,
        timeout: bound,
        encoding: 'buffer',
        // The frame markers delimit output exactly: nothing may be stripped.
        stripFinalNewline: false,
        stdin: 'ignore',
      }),
    );
    const stderr = Buffer.from(r.stderr as Uint8Array);
    // The frames carry each command's stdout; a timeout is reported per hung frame below.
    const outer = toCommandResult(
      { exitCode: r.exitCode, failed: r.failed, stderr: stderr.toString('utf8') },
      { argv: ['sh', '-c', '<batch>', `${argvs.length} commands`], host: this.host, started },
    );
    const { durationMs } = outer;
    this.raiseConnectionErrors(outer);
    const frames = parseBatch(batch.nonce, Buffer.from(r.stdout as Uint8Array), stderr);
    if (r.timedOut) {
      // The commands run one after another: the first without a frame is the one that hung.
      const hung = argvs[frames.length] ?? [];
      throw new LvchainError(
        'command_failed',
        `on ${this.host}: ${timedOutMessage(hung, bound ?? 0).trim()}`,
      );
    }
    const results = framesToResults(frames, argvs, this.host, durationMs);
    for (const result of results) this.raiseMissingTool(result);
    if (results.length !== argvs.length) {
      throw new LvchainError(
        'command_failed',
        `a batch of ${argvs.length} commands on ${this.host} returned ${results.length} results: ${outer.stderr.trim()}`,
      );
    }
    for (const l of this.listeners)
      l({
        host: this.host,
        argv: outer.argv,
        exitCode: outer.exitCode,
        durationMs,
        batched: argvs.length,
        commands: argvs.map((a) => [...a]),
      });
    return results;
  }

  async spawn(argv: readonly string[]): Promise<LongRunning> {
    const started = performance.now();
    // A lock holder must die with lvchain: never on the shared connection.
    const child = track(
      execa(...shielded(['ssh', ...this.sshArgv(shellCommand(argv), true)]), {
        reject: false,
        stdin: 'pipe',
        stripFinalNewline: false,
      }),
    );
    return longRunning(
      child,
      { argv, host: this.host, started },
      {
        endedEarly: (stderr) => `remote ${argv[0]} ended before it was ready: ${stderr}`,
        silent: (ms) => `${this.host} did not answer within ${ms} ms`,
      },
      this.children,
    );
  }

  async openSocket(path: string): Promise<Duplex> {
    const argv = relayArgv(path);
    const started = performance.now();
    // On a connection of its own: a relay closing on the shared one made the next command's
    // session fail at once (exit 255, measured against the lab's dropbear), and a killed
    // lvchain takes this ssh client with it, which ends socat's stdin.
    const child = track(
      execa(...shielded(['ssh', ...this.sshArgv(shellCommand(argv), true)]), {
        reject: false,
        stdin: 'pipe',
        buffer: { stdout: false },
        stripFinalNewline: false,
      }),
    );
    const { stdout, stdin } = child;
    if (!stdout || !stdin) throw new Error('ssh started without pipes');
    // The stream ends only when the relay does, with the reason read from its exit: its stdout
    // closing first would otherwise end it as a bare "premature close".
    stdin.on('error', () => undefined);
    const stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _encoding, done) => {
        stdin.write(chunk, done);
      },
      final: (done) => {
        stdin.end(done);
      },
      destroy: (e, done) => {
        stdin.destroy();
        stdout.destroy();
        done(e);
      },
    });
    stdout.on('data', (chunk: Buffer) => stream.push(chunk));
    // Closing our end ends socat's stdin: it closes the socket and exits, and ssh with it. A
    // relay that lingers is ended, as a signal on the multiplexed session is the last resort.
    stream.once('close', () => {
      const t = setTimeout(() => child.kill('SIGTERM'), 2000);
      void child.then(() => clearTimeout(t));
    });
    void child.then((r) => {
      const result = toCommandResult(r, { argv, host: this.host, started });
      this.notify(result);
      if (r.exitCode === SSH_FAILED)
        stream.destroy(
          new SocketError(
            'EIO',
            `cannot reach ${this.host}: ${result.stderr.trim().split('\n').pop() ?? ''}`,
          ),
        );
      else stream.destroy(relayFault(r.exitCode ?? -1, result.stderr, this.host));
    });
    return stream;
  }

  async close(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
    if (this.controlDir) {
      await execa('ssh', [...this.sshOptions(), '-O', 'exit', this.target.host], {
        reject: false,
        stdin: 'ignore',
      });
      rmSync(this.controlDir, { recursive: true, force: true });
      this.controlDir = undefined;
    }
  }

  private notify(r: CommandResult): void {
    for (const l of this.listeners)
      l({ host: this.host, argv: r.argv, exitCode: r.exitCode, durationMs: r.durationMs });
  }

  /** ssh's own failures and a missing remote program become errors that say what to fix. */
  private raiseConnectionErrors(r: CommandResult): void {
    if (programMissing(r, 'ssh')) {
      throw new LvchainError(
        'tool_missing',
        'ssh is not installed on this machine (Debian package openssh-client)',
      );
    }
    if (r.exitCode === SSH_FAILED) {
      const msg = r.stderr.trim().split('\n').pop() ?? '';
      if (
        /Permission denied|Too many authentication failures|no mutual signature|Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(
          r.stderr,
        )
      ) {
        const hostKey = /Host key verification failed|IDENTIFICATION HAS CHANGED/i.test(r.stderr);
        throw new LvchainError('host_auth_failed', `cannot log in to ${this.host}: ${msg}`, {
          details: { host: this.host, stderr: r.stderr },
          hints: hostKey
            ? [
                'The host key is unknown or changed. Check it, then add it to known_hosts (or set knownHosts: accept-new for first contact).',
              ]
            : ['lvchain uses ssh with BatchMode: set up key authentication (identityFile) for this user.'],
        });
      }
      throw new LvchainError(
        'host_unreachable',
        `cannot reach ${this.host}: ${msg || `ssh exited with ${r.exitCode}`}`,
        {
          details: { host: this.host, stderr: r.stderr },
          hints: ['Check the host name, port and network; lvchain connects with ConnectTimeout=10.'],
        },
      );
    }
  }

  /** A remote program that is not installed: say which Debian package provides it. */
  private raiseMissingTool(r: CommandResult): void {
    const wrapped = missingUnderStdbuf(r);
    if (wrapped !== undefined || (r.exitCode === 127 && /not found/i.test(r.stderr))) {
      const tool = wrapped ?? r.argv[0] ?? '';
      const pkg = packageFor(tool);
      throw new LvchainError(
        'tool_missing',
        `${tool} is not installed on ${this.host}${pkg ? ` (Debian package ${pkg})` : ''}`,
        {
          details: { host: this.host, tool },
        },
      );
    }
  }
}
