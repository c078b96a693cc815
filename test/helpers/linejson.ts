/**
 * A tiny line-JSON client for the rig's own tests: QMP (greeting, capabilities, commands
 * matched by id, events set aside) and the guest agent (0xFF resync, guest-sync-delimited).
 * The QMP engine's own client (src/engines/qmp) is what engine tests exercise.
 */
import * as net from 'node:net';

export type JsonObject = Record<string, unknown>;

export class LineJsonError extends Error {
  constructor(
    message: string,
    readonly socket: string,
    readonly errorClass?: string,
  ) {
    super(message);
    this.name = 'LineJsonError';
  }
}

class LineSocket {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;
  /** Bytes up to and including the next 0xFF are dropped (the agent's sync delimiter). */
  skipToDelimiter = false;

  private constructor(
    private readonly sock: net.Socket,
    readonly path: string,
  ) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const end = (e?: Error): void => {
      this.closed ??= e ?? new Error('connection closed');
      this.waiter?.();
    };
    sock.on('error', end);
    sock.on('close', () => end());
  }

  static connect(path: string, timeoutMs: number): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(path);
      const t = setTimeout(() => {
        sock.destroy();
        reject(new LineJsonError(`${path}: no connection within ${timeoutMs} ms`, path));
      }, timeoutMs);
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(new LineJsonError(`${path}: ${e.message}`, path));
      });
      sock.once('connect', () => {
        clearTimeout(t);
        resolve(new LineSocket(sock, path));
      });
    });
  }

  send(obj: JsonObject | Buffer): void {
    this.sock.write(Buffer.isBuffer(obj) ? obj : `${JSON.stringify(obj)}\n`);
  }

  async next(timeoutMs: number): Promise<JsonObject> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.skipToDelimiter) {
        const ff = this.buf.indexOf(0xff);
        this.buf = ff < 0 ? Buffer.alloc(0) : this.buf.subarray(ff + 1);
        this.skipToDelimiter = ff < 0;
      }
      const nl = this.skipToDelimiter ? -1 : this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString('utf8').trim();
        this.buf = this.buf.subarray(nl + 1);
        if (line) return JSON.parse(line) as JsonObject;
        continue;
      }
      if (this.closed) throw new LineJsonError(`${this.path}: ${this.closed.message}`, this.path);
      const left = deadline - Date.now();
      if (left <= 0) throw new LineJsonError(`${this.path}: no answer within ${timeoutMs} ms`, this.path);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

function result(reply: JsonObject, path: string, what: string): unknown {
  const err = reply.error as { class?: string; desc?: string } | undefined;
  if (err) throw new LineJsonError(`${path}: ${what}: ${err.class}: ${err.desc}`, path, err.class);
  return reply.return;
}

export interface Session {
  command(execute: string, args?: JsonObject, timeoutMs?: number): Promise<unknown>;
  /** QMP events received so far (empty for the agent). */
  events: JsonObject[];
  close(): void;
}

export async function qmpConnect(path: string, timeoutMs = 10_000): Promise<Session> {
  const s = await LineSocket.connect(path, timeoutMs);
  const events: JsonObject[] = [];
  let id = 0;
  const command = async (execute: string, args?: JsonObject, ms = timeoutMs): Promise<unknown> => {
    const tag = `rig-${++id}`;
    s.send({ execute, ...(args ? { arguments: args } : {}), id: tag });
    for (;;) {
      const m = await s.next(ms);
      if (m.event) events.push(m);
      else if (m.id === tag) return result(m, path, execute);
    }
  };
  try {
    const greeting = await s.next(timeoutMs);
    if (!greeting.QMP)
      throw new LineJsonError(`${path}: not a QMP greeting: ${JSON.stringify(greeting)}`, path);
    await command('qmp_capabilities');
  } catch (e) {
    s.close();
    throw e;
  }
  return { command, events, close: () => s.close() };
}

/**
 * The agent keeps no session: after connecting, bytes of an earlier client may still be in
 * flight either way. 0xFF resets its parser; guest-sync-delimited's reply starts with 0xFF.
 */
export async function agentConnect(path: string, timeoutMs = 10_000): Promise<Session> {
  const s = await LineSocket.connect(path, timeoutMs);
  const command = async (execute: string, args?: JsonObject, ms = timeoutMs): Promise<unknown> => {
    s.send({ execute, ...(args ? { arguments: args } : {}) });
    return result(await s.next(ms), path, execute);
  };
  try {
    const id = Math.floor(Math.random() * 2 ** 31);
    s.send(Buffer.from([0xff]));
    s.send({ execute: 'guest-sync-delimited', arguments: { id } });
    s.skipToDelimiter = true;
    for (;;) {
      const m = await s.next(timeoutMs);
      if (m.return === id) break;
    }
  } catch (e) {
    s.close();
    throw e;
  }
  return { command, events: [], close: () => s.close() };
}
