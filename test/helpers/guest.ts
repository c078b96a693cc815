/**
 * Boots the live test guest (test/guest/README.md) under QEMU/TCG with its data disks as
 * explicit -blockdev graphs, a QMP socket and a guest-agent socket, and waits until the
 * writer runs and the agent answers.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildGuest } from '../guest/build.js';
import { findTool } from '../lab/build.js';
import { killNow, reapStaleVms, running, TMP_PREFIX, trackVm, waitExit } from '../lab/vm.js';
import { agentConnect, LineJsonError } from './linejson.js';

export interface GuestDiskSpec {
  /** Device id, virtio serial and node-name stem: letters, digits, '-' (≤ 20 chars). */
  id: string;
  /** The qcow2 top; QEMU opens its backing chain from the header. */
  image: string;
}

export interface StartGuestOptions {
  disks: GuestDiskSpec[];
  memoryMiB?: number;
  /** Pause between writer records, in seconds as busybox sleep takes it; default 0.02. */
  writerPause?: string;
  /** Boot deadline; default 90 s or $LVCHAIN_GUEST_BOOT_TIMEOUT_MS. */
  bootTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface GuestDisk extends GuestDiskSpec {
  /** `<id>-file` (driver file) and `<id>-top` (driver qcow2, the device's drive). */
  fileNode: string;
  topNode: string;
}

export interface WriterLogEntry {
  seq: number;
  startMs: number;
  endMs: number;
}

export interface Guest {
  pid: number;
  /** Per-guest temp dir holding the sockets, the console log and the pidfile. */
  dir: string;
  qmpSocket: string;
  agentSocket: string;
  consoleLog: string;
  disks: GuestDisk[];
  serial(): string;
  /** `WRITER-ERROR ...` lines on the console so far. */
  writerErrors(): string[];
  /** The last record the writer wrote to every disk (0 before the first). */
  writerSeq(): number;
  waitForSeq(seq: number, timeoutMs?: number): Promise<void>;
  /**
   * The writer's latency log (`/run/writer.log` in the guest, read with guest-exec, which
   * the agent refuses while frozen): per record, guest uptime in ms before its first disk
   * write and after its last fsync.
   */
  writerLog(): Promise<WriterLogEntry[]>;
  /** Clean power-off through the agent (unmounts the disks); waits for QEMU to exit. */
  powerOff(timeoutMs?: number): Promise<void>;
  /** Idempotent: SIGTERM then SIGKILL to QEMU by pid, then removes dir. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

export async function startGuest(opts: StartGuestOptions): Promise<Guest> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[guest] ${m}\n`));
  const t0 = Date.now();
  const art = buildGuest({ log });
  reapStaleVms(art.cacheDir, log);
  const qemu = findTool('qemu-system-x86_64');
  if (!qemu) throw new Error('test guest: qemu-system-x86_64 missing (Debian package qemu-system-x86)');
  for (const d of opts.disks) {
    if (!/^[A-Za-z][A-Za-z0-9-]{0,19}$/.test(d.id)) throw new Error(`test guest: bad disk id ${d.id}`);
    if (!fs.existsSync(d.image)) throw new Error(`test guest: disk image ${d.image} does not exist`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}guest-`));
  const consoleLog = path.join(dir, 'console.log');
  const qmpSocket = path.join(dir, 'qmp.sock');
  const agentSocket = path.join(dir, 'qga.sock');
  const disks: GuestDisk[] = opts.disks.map((d) => ({
    id: d.id,
    image: path.resolve(d.image),
    fileNode: `${d.id}-file`,
    topNode: `${d.id}-top`,
  }));
  // prettier-ignore
  const args = [
    '-name', 'lvchain-guest,process=lvchain-guest',
    '-accel', 'tcg', '-smp', '1', '-m', String(opts.memoryMiB ?? 256),
    '-nodefaults', '-display', 'none', '-no-reboot',
    '-serial', `file:${consoleLog}`,
    '-pidfile', path.join(dir, 'qemu.pid'),
    '-kernel', art.kernel, '-initrd', art.initrd,
    '-append', `console=ttyS0 panic=-1 mitigations=off guest.disks=${disks.map((d) => d.id).join(',')}` +
      ` guest.pause=${opts.writerPause ?? '0.02'}`,
    '-qmp', `unix:${qmpSocket},server=on,wait=off`,
    '-chardev', `socket,path=${agentSocket},server=on,wait=off,id=qga0`,
    '-device', 'virtio-serial-pci',
    '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
    ...disks.flatMap((d) => [
      '-blockdev', JSON.stringify({ driver: 'file', 'node-name': d.fileNode, filename: d.image }),
      '-blockdev', JSON.stringify({ driver: 'qcow2', 'node-name': d.topNode, file: d.fileNode }),
      '-device', `virtio-blk-pci,drive=${d.topNode},id=${d.id},serial=${d.id}`,
    ]),
  ];
  const setpriv = findTool('setpriv');
  const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', qemu, ...args]] : [qemu, args];
  const qemuLog = path.join(dir, 'qemu.log');
  const errFd = fs.openSync(qemuLog, 'w');
  const child = spawn(cmd, argv, { stdio: ['ignore', errFd, errFd] });
  fs.closeSync(errFd);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`test guest: cannot start ${qemu}: ${(e as Error).message}`);
  }
  const tracked = trackVm(child, dir, art.cacheDir);

  let stopping: Promise<void> | undefined;
  const serial = (): string => readText(consoleLog);
  const writerSeq = (): number => {
    const all = [...serial().matchAll(/^WRITER seq=(\d+)/gm)];
    return all.length ? Number(all[all.length - 1]![1]) : 0;
  };
  const guest: Guest = {
    pid: child.pid!,
    dir,
    qmpSocket,
    agentSocket,
    consoleLog,
    disks,
    serial,
    writerErrors: () => serial().match(/^WRITER-ERROR.*$/gm) ?? [],
    writerSeq,
    async waitForSeq(seq, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (writerSeq() < seq) {
        if (!running(child)) throw new Error(`test guest: QEMU exited\n${tail(serial())}`);
        if (Date.now() > deadline)
          throw new Error(`test guest: writer at seq ${writerSeq()}, not ${seq}, after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async writerLog() {
      const agent = await agentConnect(agentSocket);
      try {
        const { pid } = (await agent.command('guest-exec', {
          path: '/bin/cat',
          arg: ['/run/writer.log'],
          'capture-output': true,
        })) as { pid: number };
        for (;;) {
          const st = (await agent.command('guest-exec-status', { pid })) as {
            exited: boolean;
            exitcode?: number;
            'out-data'?: string;
          };
          if (st.exited) {
            if (st.exitcode !== 0) throw new Error(`test guest: cat /run/writer.log exited ${st.exitcode}`);
            return Buffer.from(st['out-data'] ?? '', 'base64')
              .toString('utf8')
              .split('\n')
              .filter(Boolean)
              .map((line) => {
                const [seq, startMs, endMs] = line.split(' ').map(Number);
                return { seq: seq!, startMs: startMs!, endMs: endMs! };
              });
          }
          await sleep(100);
        }
      } finally {
        agent.close();
      }
    },
    async powerOff(timeoutMs = 30_000) {
      const agent = await agentConnect(agentSocket);
      try {
        // The agent does not answer guest-shutdown when it succeeds: only a refusal is an error.
        await agent.command('guest-shutdown', { mode: 'powerdown' }, 2000).catch((e: unknown) => {
          if (e instanceof LineJsonError && e.errorClass) throw e;
        });
      } finally {
        agent.close();
      }
      if (!(await waitExit(child, timeoutMs)))
        throw new Error(`test guest: still running ${timeoutMs} ms after guest-shutdown\n${tail(serial())}`);
    },
    stop() {
      stopping ??= (async () => {
        if (running(child)) {
          child.kill('SIGTERM');
          if (!(await waitExit(child, 5000))) {
            child.kill('SIGKILL');
            await waitExit(child, 5000);
          }
        }
        killNow(tracked);
      })();
      return stopping;
    },
  };

  try {
    const bootTimeoutMs = opts.bootTimeoutMs ?? Number(process.env.LVCHAIN_GUEST_BOOT_TIMEOUT_MS ?? 90_000);
    await guest.waitForSeq(1, bootTimeoutMs);
    const agent = await agentConnect(agentSocket, Math.max(1000, t0 + bootTimeoutMs - Date.now()));
    try {
      await agent.command('guest-ping');
    } finally {
      agent.close();
    }
    log(`guest up in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${child.pid}, ${dir})`);
    return guest;
  } catch (e) {
    const detail = `${(e as Error).message}\n--- qemu ---\n${tail(readText(qemuLog))}\n--- console ---\n${tail(serial())}`;
    await guest.stop();
    throw new Error(`test guest did not come up: ${detail}`);
  }
}

function tail(s: string, max = 4000): string {
  return s.length > max ? `...${s.slice(-max)}` : s;
}

/** One guest per test file: started in beforeAll, stopped in afterAll (also on failure). */
export function useGuest(opts: () => StartGuestOptions | Promise<StartGuestOptions>): () => Guest {
  let guest: Guest | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      guest = await startGuest(await opts());
    } catch (e) {
      failure = e;
      throw e;
    }
  }, 300_000);
  afterAll(async () => {
    await guest?.stop();
  }, 30_000);
  return () => {
    if (!guest) throw failure instanceof Error ? failure : new Error('test guest is not running');
    return guest;
  };
}
