/**
 * A running QEMU for the live engine's tests: qemu-storage-daemon holding disks' tops open as a
 * VM does, with a writable export per disk standing in for the guest (reference §2.1). NBD by
 * default; FUSE where the guest must see the disk grow (an NBD server forbids `block_resize` on
 * the node it exports, as a virtio-blk device does not). It is stopped by PID, also when a test
 * fails.
 */
import { execa } from 'execa';
import { access, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../../src/engines/qmp/client.js';
import { LocalExecutor } from '../../src/exec/local.js';
import { isLvchainError } from '../../src/base/errors.js';
import { requireTool } from './tools.js';
import { holderCommand, type HolderSpec } from './qemu-holder.js';
import type { JsonObject } from '../../src/exec/json-lines.js';

export interface StorageDaemon {
  pid: number;
  qmp: string;
  /** What the daemon printed on stderr. */
  log(): Promise<string>;
  /** The NBD URI the "guest" writes a disk through. */
  nbd(disk: string): string;
  /** The file the "guest" reads and writes a disk through (exports: 'fuse'). */
  fuse(disk: string): string;
  query<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export type DaemonOptions = Pick<HolderSpec, 'exports'> & Partial<Pick<HolderSpec, 'process'>>;

export async function startStorageDaemon(
  tops: Record<string, string>,
  opts: DaemonOptions = { exports: 'nbd' },
): Promise<StorageDaemon> {
  const system = opts.process === 'system';
  if (system) requireTool('qemu-system-x86_64', 'qemu-system-x86');
  else requireTool('qemu-storage-daemon', 'qemu-system-common');
  if (opts.exports === 'fuse' && !(await exists('/dev/fuse')))
    throw new Error(
      'this test needs /dev/fuse for a FUSE export of qemu-storage-daemon (the kernel module fuse)',
    );
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-qsd-'));
  const window = (disk: string) => join(dir, `${disk}.fuse`);
  const qmp = join(dir, 'qmp.sock');
  const nbd = join(dir, 'nbd.sock');
  const { program, args, exportMessages } = holderCommand({
    tops,
    process: opts.process ?? 'daemon',
    exports: opts.exports,
    protocol: 'file',
    qmp,
    nbd,
    window,
  });
  if (opts.exports === 'fuse') for (const disk of Object.keys(tops)) await writeFile(window(disk), '');
  // In the foreground, so its stderr (QEMU's errors, assertion failures) reaches a log that a
  // failing test can show; detached, so it does not share the test's signals.
  const log = join(dir, 'qsd.log');
  const out = await open(log, 'w');
  const child = spawn(program, args, {
    detached: true,
    stdio: ['ignore', out.fd, out.fd],
  });
  child.unref();
  await out.close();
  for (let i = 0; i < 200 && !(await exists(qmp)); i++) await new Promise((r) => setTimeout(r, 25));
  if (!(await exists(qmp))) {
    child.kill('SIGKILL');
    throw new Error(`${program} did not start:\n${await readFile(log, 'utf8')}`);
  }
  const pid = child.pid as number;
  const stop = async () => {
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    // A killed daemon leaves its FUSE mounts behind.
    if (opts.exports === 'fuse')
      for (const disk of Object.keys(tops)) await execa('umount', ['-l', window(disk)], { reject: false });
    if (process.env.LVCHAIN_KEEP_QSD_LOG) console.error(await readFile(log, 'utf8').catch(() => ''));
    await rm(dir, { recursive: true, force: true });
  };
  // The system emulator's exports go over QMP. A failure there must not leave it running.
  if (exportMessages.length > 0) {
    const q = await connectWhenListening(qmp).catch(async (e: unknown) => {
      await stop();
      throw e;
    });
    try {
      for (const m of exportMessages) await q.execute(m.execute, m.arguments as JsonObject);
    } catch (e) {
      await stop();
      throw e;
    } finally {
      q.close();
    }
  }
  return {
    pid,
    qmp,
    log: () => readFile(log, 'utf8').catch(() => ''),
    nbd: (disk) => `nbd+unix:///${disk}?socket=${nbd}`,
    fuse: window,
    async query<T>(command: string, a?: Record<string, unknown>): Promise<T> {
      const q = await QmpClient.connect(new LocalExecutor(), qmp);
      try {
        return await q.execute<T>(command, a);
      } finally {
        q.close();
      }
    },
    stop,
  };
}

/** Write a pattern through the running daemon, as the guest would. */
export async function guestWrite(
  uri: string,
  offset: number,
  length: number,
  pattern: number,
): Promise<void> {
  await execa('qemu-io', ['-f', 'raw', '-c', `write -P ${pattern} ${offset} ${length}`, uri]);
}

/** sha256 of what the guest reads now, through the daemon. */
export async function guestView(uri: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-gview-'));
  try {
    const raw = join(dir, 'v.raw');
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri, raw]);
    const { createHash } = await import('node:crypto');
    return createHash('sha256')
      .update(await readFile(raw))
      .digest('hex');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The socket file appears when QEMU binds it, a moment before it listens: a connection in
 * between is refused (seen once in CI, under load). Retried for up to 10 s.
 */
async function connectWhenListening(qmp: string): Promise<QmpClient> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await QmpClient.connect(new LocalExecutor(), qmp);
    } catch (e) {
      const refused = isLvchainError(e) && e.details['errno'] === 'ECONNREFUSED';
      if (!refused || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
