/**
 * Line-delimited JSON over a unix socket: the wire that QMP and the guest agent share. A
 * connection is opened where the socket is; both protocols then differ only in their greeting
 * and how replies are matched.
 */
import type { Duplex } from 'node:stream';
import { LvchainError } from '../base/errors.js';
import type { Executor } from './executor.js';
import { SocketError } from './unix-socket.js';

export type JsonObject = Record<string, unknown>;

/** Why a socket could not be used, in the words an admin can act on. */
function connectProblem(path: string, what: string, e: SocketError): LvchainError {
  const why =
    e.code === 'ENOENT'
      ? 'no such socket (is the VM running, and is this the path in its -qmp / -chardev option?)'
      : e.code === 'ECONNREFUSED'
        ? 'nothing listens on it (the VM has stopped, or another client holds a single-client socket)'
        : e.code === 'EACCES'
          ? 'permission denied (lvchain must run as a user that may open it, usually root)'
          : e.message;
  return new LvchainError('vm_unreachable', `cannot connect to the ${what} at ${path}: ${why}`, {
    details: { socket: path, errno: e.code },
    cause: e,
  });
}

/** A connected socket that yields one parsed JSON object per line, or an error for a bad line. */
export class JsonLines {
  private buffered = '';
  private waiting: ((v: JsonObject | Error) => void)[] = [];
  private queued: (JsonObject | Error)[] = [];
  private closed: Error | undefined;
  /** A relayed socket's failure to connect shows only as the relay ending before any reply. */
  private received = false;

  private constructor(
    private readonly socket: Duplex,
    readonly path: string,
    private readonly what: string,
    /** Bytes the agent sends before a synced reply (0xFF); QMP never sends them. */
    private readonly skip?: RegExp,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.take(chunk));
    socket.on('error', (e) => this.end(e));
    socket.on('close', () => this.end(new Error('connection closed')));
  }

  /** Open the socket on the host `exec` runs commands on (locally, or relayed over ssh). */
  static async open(
    exec: Pick<Executor, 'openSocket'>,
    path: string,
    what: string,
    timeoutMs: number,
    skip?: RegExp,
  ): Promise<JsonLines> {
    try {
      return new JsonLines(await exec.openSocket(path, timeoutMs), path, what, skip);
    } catch (e) {
      if (e instanceof SocketError) throw connectProblem(path, what, e);
      throw e;
    }
  }

  send(message: JsonObject): void {
    if (this.closed) throw this.broken(this.closed);
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next object from the peer; rejects when the deadline passes or the peer goes away. */
  next(timeoutMs: number, waitingFor: string): Promise<JsonObject> {
    const ready = this.queued.shift();
    if (ready !== undefined) return ready instanceof Error ? Promise.reject(ready) : Promise.resolve(ready);
    if (this.closed) return Promise.reject(this.broken(this.closed));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== deliver);
        reject(
          new LvchainError(
            'vm_failed',
            `the ${this.what} at ${this.path} did not answer ${waitingFor} in ${timeoutMs} ms`,
            {
              details: { socket: this.path, waitingFor, timeoutMs },
            },
          ),
        );
      }, timeoutMs);
      const deliver = (v: JsonObject | Error) => {
        clearTimeout(timer);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      this.waiting.push(deliver);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private take(chunk: string): void {
    this.buffered += this.skip ? chunk.replace(this.skip, '') : chunk;
    let nl = this.buffered.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line !== '') {
        this.received = true;
        this.deliver(this.parse(line));
      }
      nl = this.buffered.indexOf('\n');
    }
  }

  private parse(line: string): JsonObject | Error {
    try {
      const v: unknown = JSON.parse(Buffer.from(line, 'latin1').toString('utf8'));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as JsonObject;
    } catch {
      // reported below with the line itself
    }
    return new LvchainError(
      'vm_failed',
      `the ${this.what} at ${this.path} sent a line that is not a JSON object: ${line.slice(0, 200)}`,
    );
  }

  private deliver(v: JsonObject | Error): void {
    const w = this.waiting.shift();
    if (w) w(v);
    else this.queued.push(v);
  }

  private end(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const w of this.waiting.splice(0)) w(this.broken(e));
  }

  private broken(e: Error): LvchainError {
    if (e instanceof SocketError && !this.received) return connectProblem(this.path, this.what, e);
    return new LvchainError(
      'vm_failed',
      `the connection to the ${this.what} at ${this.path} was lost: ${e.message}`,
      {
        details: { socket: this.path },
        cause: e,
      },
    );
  }
}
