/**
 * A QMP connection to one QEMU (reference qemu-img-and-qmp.md §2): capabilities negotiated,
 * commands matched to replies by id, events kept in order for whoever waits on them.
 */
import { LvchainError } from '../../base/errors.js';
import type { Executor } from '../../exec/executor.js';
import { JsonLines, type JsonObject } from '../../exec/json-lines.js';

export interface QmpEvent {
  event: string;
  data: JsonObject;
}

export interface QmpOptions {
  /** How long one command may take to answer. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class QmpClient {
  private seq = 0;
  private readonly events: QmpEvent[] = [];
  /** Every message sent, in order: the plan and the command log show them as argv is shown. */
  readonly sent: JsonObject[] = [];

  private constructor(
    private readonly wire: JsonLines,
    private readonly timeoutMs: number,
  ) {}

  /** Connect on the host `exec` runs commands on: the QEMU runs beside the storage. */
  static async connect(
    exec: Pick<Executor, 'openSocket'>,
    socket: string,
    opts: QmpOptions = {},
  ): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const wire = await JsonLines.open(exec, socket, 'QMP socket', timeoutMs);
    try {
      const greeting = await wire.next(timeoutMs, 'its greeting');
      if (!('QMP' in greeting)) {
        throw new LvchainError(
          'vm_failed',
          `${socket} is not a QMP socket: its first message was ${JSON.stringify(greeting).slice(0, 200)}`,
          {
            details: { socket },
          },
        );
      }
      const client = new QmpClient(wire, timeoutMs);
      await client.execute('qmp_capabilities');
      return client;
    } catch (e) {
      wire.close();
      throw e;
    }
  }

  get socket(): string {
    return this.wire.path;
  }

  /** Run one command; QMP's error reply becomes a typed error naming the command and QEMU's words. */
  async execute<T = unknown>(command: string, args?: JsonObject, timeoutMs = this.timeoutMs): Promise<T> {
    const id = `lvchain-${++this.seq}`;
    const message: JsonObject = { execute: command, ...(args ? { arguments: args } : {}), id };
    this.sent.push({ execute: command, ...(args ? { arguments: args } : {}) });
    this.wire.send(message);
    for (;;) {
      const m = await this.wire.next(timeoutMs, command);
      if (typeof m.event === 'string') {
        this.events.push({ event: m.event, data: (m.data ?? {}) as JsonObject });
        continue;
      }
      if (m.id !== id) continue;
      if ('error' in m) {
        const err = m.error as { class?: string; desc?: string };
        throw new LvchainError('vm_failed', `QEMU refused ${command}: ${err.desc ?? JSON.stringify(err)}`, {
          details: { socket: this.socket, command, arguments: args ?? {}, class: err.class },
        });
      }
      return m.return as T;
    }
  }

  /** Wait for an event that matches; events that came earlier and still match count too. */
  async waitEvent(match: (e: QmpEvent) => boolean, timeoutMs: number, what: string): Promise<QmpEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) return this.events.splice(i, 1)[0] as QmpEvent;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new LvchainError('vm_failed', `QEMU at ${this.socket}: no ${what} within ${timeoutMs} ms`);
      const m = await this.wire.next(left, what);
      if (typeof m.event === 'string')
        this.events.push({ event: m.event, data: (m.data ?? {}) as JsonObject });
    }
  }

  close(): void {
    this.wire.close();
  }
}
