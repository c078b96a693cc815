/**
 * The QEMU guest agent, for one thing: freezing the guest's file systems around a live snapshot.
 * Every call has a deadline; a freeze is only ever made through `frozen()`, which thaws on
 * every path out of it.
 */
import { LvchainError } from '../../base/errors.js';
import type { Executor } from '../../exec/executor.js';
import { JsonLines } from '../../exec/json-lines.js';

export type FreezeStatus = 'frozen' | 'thawed';

export class GuestAgent {
  private constructor(
    private readonly wire: JsonLines,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Connect and synchronise: the agent may hold a half-read request or a stale reply from an
   * earlier client, so a delimited sync with a fresh id comes first (0xFF marks its reply).
   */
  static async connect(
    exec: Pick<Executor, 'openSocket'>,
    socket: string,
    timeoutMs: number,
  ): Promise<GuestAgent> {
    const wire = await JsonLines.open(exec, socket, 'guest agent socket', timeoutMs, /\xff/g);
    try {
      const id = Math.floor(Math.random() * 2 ** 31);
      wire.send({ execute: 'guest-sync-delimited', arguments: { id } });
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new LvchainError(
            'vm_failed',
            `the guest agent at ${socket} did not answer a sync in ${timeoutMs} ms`,
          );
        const m = await wire.next(left, 'guest-sync-delimited');
        if (m.return === id) return new GuestAgent(wire, timeoutMs);
      }
    } catch (e) {
      wire.close();
      throw e;
    }
  }

  private async call<T>(command: string): Promise<T> {
    this.wire.send({ execute: command });
    const m = await this.wire.next(this.timeoutMs, command);
    if ('error' in m) {
      const err = m.error as { desc?: string };
      throw new LvchainError(
        'vm_failed',
        `the guest agent refused ${command}: ${err.desc ?? JSON.stringify(err)}`,
        {
          details: { socket: this.wire.path, command },
        },
      );
    }
    return m.return as T;
  }

  status(): Promise<FreezeStatus> {
    return this.call<FreezeStatus>('guest-fsfreeze-status');
  }

  /**
   * Run `work` with the guest's file systems frozen. The thaw is attempted whatever happens; if
   * it fails, the error says so, because a guest left frozen stops its applications.
   */
  async frozen<T>(work: () => Promise<T>): Promise<{ result: T; filesystems: number }> {
    let filesystems = 0;
    try {
      filesystems = await this.call<number>('guest-fsfreeze-freeze');
      const result = await work();
      return { result, filesystems };
    } finally {
      await this.thaw();
    }
  }

  /** Thaw, and check that the guest says so: "thawed" is the only state in which to let go. */
  async thaw(): Promise<void> {
    try {
      await this.call<number>('guest-fsfreeze-thaw');
    } catch (e) {
      // A thaw of a guest that is not frozen is refused by some agents: the status decides.
      if ((await this.status()) !== 'thawed') throw e;
    }
    const s = await this.status();
    if (s !== 'thawed')
      throw new LvchainError(
        'vm_failed',
        `the guest still reports its file systems ${s} after a thaw; thaw it with guest-fsfreeze-thaw`,
        {
          details: { socket: this.wire.path },
        },
      );
  }

  close(): void {
    this.wire.close();
  }
}
