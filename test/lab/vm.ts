/**
 * Boots the test host VM ("lab", DESIGN §11.3) with QEMU/TCG and reaches it over real ssh
 * on a loopback hostfwd port. One VM per test file: see `useLab`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildLab, findTool, pidAlive, type LabArtifacts } from './build.js';
import { shellQuote as shQuote } from '../../src/base/quote.js';

export interface LabDiskSpec {
  sizeMiB: number;
  /** Pre-fill every byte with this value (for stale-extent tests); default: sparse zeros. */
  fillByte?: number;
  /**
   * Use this existing host file instead of a new one (e.g. the same disk in two VMs for
   * shared-VG tests). It is neither created, filled nor removed; sizeMiB is ignored.
   */
  file?: string;
  /** Throttle the guest's writes to this disk (QEMU's bps_wr): long work that takes real time. */
  writeBytesPerSecond?: number;
}

export interface StartLabOptions {
  disks?: LabDiskSpec[];
  memoryMiB?: number;
  /** Overall time to wait for ssh; default 90 s or $LVCHAIN_LAB_BOOT_TIMEOUT_MS. */
  bootTimeoutMs?: number;
  /**
   * Share one ssh connection (ControlMaster, owned and stopped with the VM) between
   * commands: the ssh handshake costs ~0.3 s under TCG, a multiplexed session ~0.05 s.
   * A client falls back to a direct connection if the master is gone. Default true, or
   * $LVCHAIN_LAB_SSH_MUX=0 to turn it off.
   */
  multiplex?: boolean;
  log?: (msg: string) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface LabVm {
  host: '127.0.0.1';
  port: number;
  user: 'root';
  identityFile: string;
  /** known_hosts already holding the VM's host key for [127.0.0.1]:port. */
  knownHostsFile: string;
  /** Guest device paths of the data disks, e.g. ['/dev/vda', '/dev/vdb']. */
  devices: string[];
  /** Host paths of the backing files. */
  diskFiles: string[];
  /** Serial console log of the guest. */
  consoleLog: string;
  /** Per-VM temp dir (disks, logs, known_hosts); removed by stop(). */
  tmpDir: string;
  pid: number;
  /** ssh options to reach the VM (no destination): append `root@127.0.0.1` and a command. */
  sshArgs(): string[];
  /** Runs argv in the VM over plain ssh; each element is quoted for the remote POSIX sh. */
  run(argv: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<RunResult>;
  /** Idempotent: stops qemu (SIGTERM, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

const DEFAULT_DISKS: LabDiskSpec[] = [{ sizeMiB: 1024 }, { sizeMiB: 1024 }];
export const TMP_PREFIX = 'lvchain-lab-';

/** The project's one quoting function for the remote POSIX shell. */
export { shellQuote as shQuote } from '../../src/base/quote.js';

// ---------------------------------------------------------------------------------------
// process bookkeeping: every VM is stopped on stop(), on exit and on SIGINT/SIGTERM/SIGHUP

export interface Live {
  child: ChildProcess;
  tmpDir: string;
  pidFile: string;
  /** Helper processes tied to this VM (the ssh connection master). */
  helpers: ChildProcess[];
}

export function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}
const live = new Set<Live>();
let handlersInstalled = false;

export function killNow(l: Live, opts: { keepTmpDir?: boolean } = {}): void {
  for (const c of [...l.helpers, l.child]) {
    try {
      if (running(c) && c.pid) process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (!opts.keepTmpDir) fs.rmSync(l.tmpDir, { recursive: true, force: true });
  fs.rmSync(l.pidFile, { force: true });
  live.delete(l);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const l of [...live]) killNow(l);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const l of [...live]) killNow(l);
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(sig) <= 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

interface PidRecord {
  qemuPid: number;
  ownerPid: number;
  tmpDir: string;
  started: string;
}

function vmsDir(cacheDir: string): string {
  const d = path.join(cacheDir, 'vms');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Kills VMs left by earlier runs whose owner process is gone, and removes their temp dirs. */
export function reapStaleVms(cacheDir: string, log: (m: string) => void = () => {}): void {
  const dir = vmsDir(cacheDir);
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    const file = path.join(dir, f);
    let rec: PidRecord;
    try {
      rec = JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
    } catch {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (rec.ownerPid && pidAlive(rec.ownerPid)) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${rec.qemuPid}/cmdline`, 'utf8');
    } catch {
      /* gone */
    }
    // only a qemu that is really ours (pids get reused)
    if (cmdline.includes('qemu-system') && rec.tmpDir && cmdline.includes(rec.tmpDir)) {
      log(`killing stale lab VM pid ${rec.qemuPid} (owner ${rec.ownerPid} is gone)`);
      try {
        process.kill(rec.qemuPid, 'SIGKILL');
      } catch {
        /* raced */
      }
    }
    if (rec.tmpDir && path.basename(rec.tmpDir).startsWith(TMP_PREFIX)) {
      fs.rmSync(rec.tmpDir, { recursive: true, force: true });
    }
    fs.rmSync(file, { force: true });
  }
}

/**
 * Registers a started qemu: killed on process exit and on SIGINT/SIGTERM/SIGHUP, and left
 * a pidfile in `<cacheDir>/vms/` so that `reapStaleVms` kills it if this process dies
 * first. tmpDir's name must start with `lvchain-lab-` for the reaper to remove it.
 */
export function trackVm(child: ChildProcess, tmpDir: string, cacheDir: string): Live {
  installHandlers();
  const pidFile = path.join(vmsDir(cacheDir), `${child.pid}.json`);
  const rec: PidRecord = {
    qemuPid: child.pid!,
    ownerPid: process.pid,
    tmpDir,
    started: new Date().toISOString(),
  };
  fs.writeFileSync(pidFile, JSON.stringify(rec));
  const l: Live = { child, tmpDir, pidFile, helpers: [] };
  live.add(l);
  return l;
}

// ---------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function makeDisk(file: string, spec: LabDiskSpec): void {
  const size = spec.sizeMiB * 2 ** 20;
  if (!Number.isInteger(spec.sizeMiB) || spec.sizeMiB <= 0)
    throw new Error(`lab: bad disk size ${spec.sizeMiB}`);
  const fd = fs.openSync(file, 'w');
  try {
    if (spec.fillByte === undefined) {
      fs.ftruncateSync(fd, size);
    } else {
      if (!Number.isInteger(spec.fillByte) || spec.fillByte < 0 || spec.fillByte > 255) {
        throw new Error(`lab: fillByte must be 0..255, got ${spec.fillByte}`);
      }
      const chunk = Buffer.alloc(4 * 2 ** 20, spec.fillByte);
      for (let off = 0; off < size; off += chunk.length) {
        fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function runSsh(
  args: string[],
  input: string | Buffer | undefined,
  timeoutMs: number | undefined,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
    }
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[lab] ssh timed out after ${timeoutMs} ms`;
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        exitCode: code ?? (signal ? 255 : -1),
      });
    });
    child.stdin.on('error', () => {
      /* remote closed stdin early */
    });
    child.stdin.end(input ?? '');
  });
}

function tail(file: string, maxChars = 6000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.length > maxChars ? `...${s.slice(-maxChars)}` : s;
  } catch {
    return '(none)';
  }
}

function consoleHas(file: string, marker: string): boolean {
  try {
    return fs.readFileSync(file, 'latin1').includes(marker);
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startLab(opts: StartLabOptions = {}): Promise<LabVm> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[lab] ${m}\n`));
  const t0 = Date.now();
  const art: LabArtifacts = buildLab({ log });
  reapStaleVms(art.cacheDir, log);
  installHandlers();

  const qemu = findTool('qemu-system-x86_64');
  if (!qemu)
    throw new Error(
      'lab: qemu-system-x86_64 missing (Debian package qemu-system-x86): run scripts/lab-deps.sh',
    );
  const setpriv = findTool('setpriv');

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), TMP_PREFIX));
  const specs = opts.disks ?? DEFAULT_DISKS;
  if (specs.length > 20) throw new Error('lab: at most 20 disks (/dev/vda../dev/vdt)');
  const diskFiles: string[] = [];
  const devices: string[] = [];
  let live0: Live | undefined;
  try {
    specs.forEach((spec, i) => {
      const file = spec.file ? path.resolve(spec.file) : path.join(tmpDir, `disk${i}.raw`);
      if (!spec.file) makeDisk(file, spec);
      else if (!fs.existsSync(file)) throw new Error(`lab: disk file ${file} does not exist`);
      diskFiles.push(file);
      devices.push(`/dev/vd${String.fromCharCode(97 + i)}`);
    });

    const consoleLog = path.join(tmpDir, 'console.log');
    const qemuLog = path.join(tmpDir, 'qemu.log');
    const knownHostsFile = path.join(tmpDir, 'known_hosts');
    const bootTimeoutMs = opts.bootTimeoutMs ?? Number(process.env.LVCHAIN_LAB_BOOT_TIMEOUT_MS ?? 90_000);
    const memoryMiB = opts.memoryMiB ?? 1024;

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      fs.writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${art.hostPublicKey}\n`);
      // prettier-ignore
      const qemuArgs = [
        '-name', `lvchain-lab,process=lvchain-lab`,
        // TCG: the default CPU model (qemu64) boots and runs LVM fastest; -cpu max and
        // -smp 2 were measured slower or equal on a 2-core host.
        '-accel', 'tcg',
        '-smp', '1',
        '-m', String(memoryMiB),
        '-nodefaults',
        '-display', 'none',
        '-no-reboot',
        '-serial', `file:${consoleLog}`,
        '-kernel', art.kernel,
        '-initrd', art.initrd,
        '-append', 'console=ttyS0 panic=-1 mitigations=off',
        '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`,
        '-device', 'virtio-net-pci,netdev=n0,romfile=',
        '-object', 'rng-random,id=rng0,filename=/dev/urandom',
        '-device', 'virtio-rng-pci,rng=rng0',
        ...diskFiles.flatMap((f, i) => {
          const bps = specs[i]?.writeBytesPerSecond;
          return [
            '-drive',
            `file=${f.replace(/,/g, ',,')},if=virtio,format=raw,cache=unsafe,discard=unmap,file.locking=off${bps ? `,bps_wr=${bps}` : ''}`,
          ];
        }),
      ];
      const [cmd, args] = setpriv
        ? [setpriv, ['--pdeathsig', 'KILL', '--', qemu, ...qemuArgs]]
        : [qemu, qemuArgs];
      const errFd = fs.openSync(qemuLog, 'w');
      const child = spawn(cmd, args, { stdio: ['ignore', errFd, errFd], cwd: tmpDir });
      fs.closeSync(errFd);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
      live0 = trackVm(child, tmpDir, art.cacheDir);

      const mux: { path?: string } = {};
      const vm = makeVm({
        art,
        port,
        tmpDir,
        knownHostsFile,
        consoleLog,
        devices,
        diskFiles,
        live: live0,
        mux,
      });
      const deadline = Date.now() + bootTimeoutMs;
      let last: RunResult | undefined;
      // Until the guest's network is up, slirp accepts the connection and ssh waits for a
      // banner that does not come: so poll only once /init has started dropbear, with a
      // short ConnectTimeout first (a longer one later, for a slow host).
      let dropbearAt: number | undefined;
      while (Date.now() < deadline) {
        if (!running(child)) break;
        if (dropbearAt === undefined) {
          if (!consoleHas(consoleLog, 'lab-init: starting dropbear')) {
            await sleep(200);
            continue;
          }
          dropbearAt = Date.now();
        }
        const connectTimeout = Date.now() - dropbearAt < 20_000 ? 2 : 5;
        last = await runSsh(
          [...vm.sshArgs(), '-o', `ConnectTimeout=${connectTimeout}`, '--', 'root@127.0.0.1', 'true'],
          '',
          15_000,
        );
        if (last.exitCode === 0) {
          const multiplex = opts.multiplex ?? process.env.LVCHAIN_LAB_SSH_MUX !== '0';
          if (multiplex) await startMaster(vm, live0, mux, log);
          log(`VM up on 127.0.0.1:${port} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${child.pid})`);
          return vm;
        }
        await sleep(300);
      }
      const qlog = tail(qemuLog);
      const exited = child.exitCode !== null || child.signalCode !== null;
      // hostfwd port taken between our probe and qemu's bind: retry on another port
      if (exited && /hostfwd|Could not set up host forwarding/i.test(qlog) && attempt < 5) {
        killNow(live0, { keepTmpDir: true });
        live0 = undefined;
        continue;
      }
      const why = exited
        ? `qemu exited (code ${child.exitCode}, signal ${child.signalCode})`
        : dropbearAt === undefined
          ? `the guest did not reach 'starting dropbear' within ${bootTimeoutMs} ms`
          : `no ssh answer within ${bootTimeoutMs} ms`;
      await vm.stop().catch(() => {});
      throw new Error(
        `lab VM did not come up: ${why}.\n` +
          `last ssh: exit ${last?.exitCode} ${last?.stderr.trim() ?? ''}\n` +
          `--- qemu output ---\n${qlog}\n--- serial console ---\n${tail(consoleLog)}`,
      );
    }
  } catch (e) {
    if (live0) killNow(live0);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
}

/** Starts `ssh -M -N` as a tracked child; on success clients use its ControlPath. */
async function startMaster(
  vm: LabVm,
  l: Live,
  mux: { path?: string },
  log: (m: string) => void,
): Promise<void> {
  const controlPath = path.join(l.tmpDir, 'mux');
  if (controlPath.length > 100) return; // unix socket path limit
  const master = spawn(
    'ssh',
    [
      ...vm.sshArgs(),
      '-M',
      '-N',
      '-o',
      `ControlPath=${controlPath}`,
      '-o',
      'ControlPersist=no',
      '--',
      'root@127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  l.helpers.push(master);
  let err = '';
  master.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && running(master)) {
    if (fs.existsSync(controlPath)) {
      mux.path = controlPath;
      return;
    }
    await sleep(50);
  }
  log(`ssh connection sharing not available, using direct connections (${err.trim() || 'timeout'})`);
  if (running(master)) master.kill('SIGKILL');
}

function makeVm(p: {
  art: LabArtifacts;
  port: number;
  tmpDir: string;
  knownHostsFile: string;
  consoleLog: string;
  devices: string[];
  diskFiles: string[];
  live: Live;
  mux: { path?: string };
}): LabVm {
  let stopping: Promise<void> | undefined;
  // prettier-ignore
  const sshArgs = (): string[] => [
    '-F', 'none',
    '-p', String(p.port),
    '-i', p.art.identityFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${p.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-o', 'ServerAliveInterval=10',
    '-o', 'ServerAliveCountMax=6',
    '-l', 'root',
    ...(p.mux.path ? ['-o', `ControlPath=${p.mux.path}`, '-o', 'ControlMaster=no'] : []),
  ];
  return {
    host: '127.0.0.1',
    port: p.port,
    user: 'root',
    identityFile: p.art.identityFile,
    knownHostsFile: p.knownHostsFile,
    devices: [...p.devices],
    diskFiles: [...p.diskFiles],
    consoleLog: p.consoleLog,
    tmpDir: p.tmpDir,
    pid: p.live.child.pid!,
    sshArgs,
    run(argv, opts = {}) {
      if (argv.length === 0) return Promise.reject(new Error('lab run: empty argv'));
      const command = argv.map(shQuote).join(' ');
      return runSsh([...sshArgs(), '--', 'root@127.0.0.1', command], opts.input, opts.timeoutMs);
    },
    stop() {
      stopping ??= (async () => {
        const { child, helpers } = p.live;
        p.mux.path = undefined;
        for (const h of helpers) if (running(h)) h.kill('SIGTERM');
        if (running(child)) {
          child.kill('SIGTERM');
          if (!(await waitExit(child, 5000))) {
            child.kill('SIGKILL');
            await waitExit(child, 5000);
          }
        }
        killNow(p.live);
      })();
      return stopping;
    },
  };
}

/** Starts one VM for the current test file (beforeAll) and stops it afterwards (afterAll). */
export function useLab(opts?: StartLabOptions): () => LabVm {
  let vm: LabVm | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      vm = await startLab(opts);
    } catch (e) {
      failure = e;
      throw e;
    }
  }, 300_000);
  afterAll(async () => {
    await vm?.stop();
  }, 30_000);
  return () => {
    if (!vm) {
      throw failure instanceof Error
        ? failure
        : new Error('lab VM is not running (useLab getter used outside a test?)');
    }
    return vm;
  };
}

/** The `hosts:` entry that reaches a lab VM over ssh with its pinned host key. */
export function labHostConfig(
  vm: Pick<LabVm, 'port' | 'identityFile' | 'knownHostsFile'>,
): Record<string, unknown> {
  return {
    ssh: {
      host: '127.0.0.1',
      user: 'root',
      port: vm.port,
      identityFile: vm.identityFile,
      knownHostsFile: vm.knownHostsFile,
    },
  };
}
