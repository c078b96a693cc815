/**
 * One result shape for every command run (STYLE 12): argv, exit code, output, duration,
 * and the original error as `cause`. Commands are argv arrays; strings are for display only.
 */
import type { Duplex } from 'node:stream';
import { LvchainError } from '../base/errors.js';
import { displayArgv } from '../base/quote.js';

export interface CommandResult {
  argv: string[];
  /** Where it ran: "local" or the ssh destination. */
  host: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  failed: boolean;
  /** Set when it ran past its time limit and was stopped. */
  timedOut?: boolean;
  /** Set when the process could not start or was killed. */
  cause?: unknown;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Called with each chunk of stdout as it arrives (progress of long data moves). */
  onStdout?: (chunk: string) => void;
  /**
   * Long-running remote work gets its own connection: if lvchain dies, that connection dies
   * with it and the remote process at once, instead of lingering on a shared one.
   */
  ownConnection?: boolean;
}

export interface CommandEvent {
  host: string;
  argv: string[];
  exitCode: number;
  durationMs: number;
  /** Commands folded into one remote round trip count once. */
  batched?: number;
  /** Those commands, each as its argv (`argv` is the round trip's own). */
  commands?: string[][];
}

/**
 * A command of a batch. With `ifDirectory` it runs only when that directory exists on the host,
 * which a remote shell decides with its builtin `test`: probing a host for what it may lack (a
 * Proxmox node's /etc/pve) then costs no process where it is absent. Skipped, it fails with
 * exit code 1 and no output.
 */
export type BatchCommand =
  readonly string[] | { readonly argv: readonly string[]; readonly ifDirectory: string };

export function batchArgv(command: BatchCommand): readonly string[] {
  return 'argv' in command ? command.argv : command;
}

export interface Executor {
  /** "local", or the ssh destination. */
  readonly host: string;
  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /**
   * Run several independent commands. Remote executors send them in one round trip, so a
   * plan's command count grows with hosts and storages, not with disks (DESIGN §5).
   */
  runBatch(commands: readonly BatchCommand[]): Promise<CommandResult[]>;
  /** Start a long-lived process (lock holders); it dies with its handle or its parent. */
  spawn(argv: readonly string[]): Promise<LongRunning>;
  /**
   * Connect to a unix socket on this host (a VM's QMP or agent socket). Fails with a
   * SocketError (exec/unix-socket.ts); over ssh, a failure to connect may show only as the
   * stream ending with one.
   */
  openSocket(path: string, timeoutMs: number): Promise<Duplex>;
  close(): Promise<void>;
}

export interface LongRunning {
  /** Resolves with stdout line `index` (0: the first), or rejects if the process ends first. */
  line(index: number, timeoutMs: number): Promise<string>;
  /** Resolves when the process ends. */
  exited: Promise<CommandResult>;
  stop(): Promise<void>;
}

export class CommandError extends LvchainError {
  readonly result: CommandResult;

  constructor(result: CommandResult, what?: string) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' / ') || `exit code ${result.exitCode}`;
    super('command_failed', `${what ?? displayArgv(result.argv)} failed on ${result.host}: ${detail}`, {
      details: { argv: result.argv, host: result.host, exitCode: result.exitCode, stderr: result.stderr },
      cause: result.cause,
    });
    this.name = 'CommandError';
    this.result = result;
  }
}

/** The result, or a CommandError when it failed. */
export function ok(result: CommandResult, what?: string): CommandResult {
  if (result.failed) throw new CommandError(result, what);
  return result;
}

/** Package that provides a tool on Debian, for "not installed" hints. */
export function packageFor(tool: string): string | undefined {
  const base = tool.split('/').pop() ?? tool;
  if (['qemu-img', 'qemu-io'].includes(base)) return 'qemu-utils';
  if (
    [
      'lvm',
      'lvs',
      'vgs',
      'pvs',
      'lvcreate',
      'lvremove',
      'lvrename',
      'lvchange',
      'lvextend',
      'vgcreate',
      'pvcreate',
      'vgchange',
    ].includes(base)
  )
    return 'lvm2';
  if (['blkdiscard', 'flock', 'wipefs', 'blkid'].includes(base)) return 'util-linux';
  if (base === 'stdbuf') return 'coreutils';
  if (base === 'ssh') return 'openssh-client';
  return undefined;
}

/**
 * The program `stdbuf` could not start, from its message (exit 127): stdbuf only sets the
 * buffering of the program it runs, so that program is the one missing.
 */
export function missingUnderStdbuf(r: Pick<CommandResult, 'exitCode' | 'stderr'>): string | undefined {
  if (r.exitCode !== 127) return undefined;
  return /^stdbuf: failed to run command \W?([^\s'’]+)\W?: No such file or directory/m.exec(r.stderr)?.[1];
}
