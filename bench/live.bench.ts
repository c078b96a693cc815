/**
 * `npm run bench:live` (issue 10): what a running guest feels of lvchain's live engine, on the
 * directory backend. A QEMU with no machine (`qemu-system-x86_64 -machine none`) holds a
 * two-disk guest's tops, as a VM does, and exports them over NBD; a writer stands in for the
 * guest: one `qemu-io` doing 4 KiB writes back to back, each timed from command to reply.
 *
 * It prints:
 * - the writer's latency (p50/p99/max) while lvchain takes live snapshots, against how long an
 *   offline snapshot of the same guest runs from its first step to its last: the least a VM
 *   paused for the whole sequence stalls, which is what Proxmox VE does;
 * - a live commit's throughput against an offline commit of the same bytes;
 * - the writer's throughput during a live merge, with and without `mergeRate`.
 * Figures, not a test. Runs the built CLI (dist/): `npm run build` first.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { DirLab } from '../test/helpers/dirlab.js';
import { guestConfig } from '../test/helpers/configs.js';
import { guestWrite, startStorageDaemon, type StorageDaemon } from '../test/helpers/storage-daemon.js';
import { requireTool } from '../test/helpers/tools.js';
import { writePattern } from '../test/helpers/data.js';

const MiB = 1024 ** 2;
const DISKS = ['vm-990-disk-0', 'vm-990-disk-1'];
const SIZE = 512 * MiB;
const MOVE = 256 * MiB;
const SNAPSHOTS = 5;

/** One 4 KiB write after another through the guest's NBD export, each timed. */
class Writer {
  private readonly child: ChildProcessWithoutNullStreams;
  /** [sent at (ms), latency (ms)] of every write answered. */
  readonly writes: [number, number][] = [];
  private sentAt = 0;
  private n = 0;
  private stopped = false;
  private pending = '';

  constructor(uri: string) {
    this.child = spawn('qemu-io', ['-f', 'raw', uri]);
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.pending += chunk.toString('utf8');
      const lines = this.pending.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines)
        if (/wrote \d+\/\d+ bytes/.test(line)) {
          const now = performance.now();
          this.writes.push([this.sentAt, now - this.sentAt]);
          this.next();
        }
    });
    this.next();
  }

  private next(): void {
    if (this.stopped) return;
    // Over the first 64 MiB of the disk, 4 KiB at a time, round and round.
    const offset = (this.n++ * 4096) % (64 * MiB);
    this.sentAt = performance.now();
    this.child.stdin.write(`write -P ${this.n % 256} ${offset} 4k\n`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.child.stdin.end();
    await new Promise((resolve) => this.child.on('close', resolve));
  }

  /** Latencies of the writes sent in [from, to). */
  between(from: number, to: number): number[] {
    return this.writes.filter(([at]) => at >= from && at < to).map(([, ms]) => ms);
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const rate = (bytes: number, millis: number) => `${(bytes / MiB / (millis / 1000)).toFixed(0)} MiB/s`;

interface Event {
  type: string;
  hook?: { kind?: string; elapsed_ms?: number };
  '@timestamp'?: string;
}

/** Apply the config with --json: the events, and the wall time of the run. */
async function applyJson(
  lab: DirLab,
  ...args: string[]
): Promise<{ events: Event[]; from: number; to: number }> {
  const from = performance.now();
  const r = await lab.run(['apply', '--auto-approve', '--json', ...args]);
  const to = performance.now();
  if (r.exitCode !== 0) throw new Error(`apply failed:\n${r.stdout}\n${r.stderr}`);
  return {
    events: r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Event),
    from,
    to,
  };
}

const stepMs = (events: Event[], kind: string) =>
  events
    .filter((e) => e.type === 'step_complete' && e.hook?.kind === kind)
    .reduce((s, e) => s + (e.hook?.elapsed_ms ?? 0), 0);

/** From the first step's start to the last step's end: how long the steps themselves ran. */
function stepsSpan(events: Event[]): number {
  const at = (e: Event) => Date.parse(e['@timestamp'] ?? '');
  const starts = events.filter((e) => e.type === 'step_start').map(at);
  const ends = events.filter((e) => e.type === 'step_complete').map(at);
  return Math.max(...ends) - Math.min(...starts);
}

async function main(): Promise<void> {
  for (const [tool, pkg] of [
    ['qemu-img', 'qemu-utils'],
    ['qemu-io', 'qemu-utils'],
    ['qemu-system-x86_64', 'qemu-system-x86'],
  ] as const)
    requireTool(tool, pkg);
  const lab = await DirLab.create('lvchain-bench-live-');
  let qsd: StorageDaemon | undefined;
  const start = async () => {
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])), {
      exports: 'nbd',
      process: 'system',
    });
    return qsd;
  };
  const config = (snapshots: string[], live: boolean, mergeRate?: string) =>
    lab.writeRawConfig({
      ...guestConfig({
        guest: 'web',
        disks: DISKS,
        size: `${SIZE / MiB}MiB`,
        snapshots,
        ...(live && qsd ? { vm: { qmp: qsd.qmp, freeze: 'off' } } : {}),
      }),
      directories: { lab: { path: './store', ...(mergeRate ? { mergeRate } : {}) } },
    });
  try {
    await config([], false);
    await lab.apply();

    // 1. Live snapshots while the writer runs, against the span of an offline snapshot.
    process.stdout.write(`live snapshots: ${SNAPSHOTS} of a 2-disk guest while a 4 KiB writer runs…\n`);
    const daemon = await start();
    const writer = new Writer(daemon.nbd(DISKS[0] as string));
    await new Promise((r) => setTimeout(r, 1000));
    const during: number[] = [];
    const snaps: string[] = [];
    for (let i = 1; i <= SNAPSHOTS; i++) {
      snaps.push(`s${i}`);
      await config(snaps, true);
      const run = await applyJson(lab);
      during.push(...writer.between(run.from, run.to));
    }
    const quiet = writer.between(0, performance.now()).filter((_, i) => i < 200);
    await writer.stop();
    await daemon.stop();
    snaps.push(`s${SNAPSHOTS + 1}`);
    await config(snaps, false);
    const offline = await applyJson(lab);

    // 2. A live commit of 256 MiB, then the same bytes committed offline.
    process.stdout.write('merges: 256 MiB committed live and offline…\n');
    let round = 0;
    const merge = async (live: boolean, mergeRate?: string) => {
      const d = live ? await start() : undefined;
      const uri = d?.nbd(DISKS[0] as string);
      if (uri) await guestWrite(uri, 64 * MiB, MOVE, 0x5a);
      else await writePattern(lab.top(DISKS[0] as string), 64 * MiB, MOVE, 0x5a);
      const w = uri ? new Writer(uri) : undefined;
      if (w) await new Promise((r) => setTimeout(r, 500));
      // The newest snapshot goes: its child is the top, so the live engine commits with a pivot.
      const kept = snaps.slice(0, -1);
      await config(kept, live, mergeRate);
      const run = await applyJson(lab, '--merge-direction', 'commit');
      const writes = w ? w.between(run.from, run.to) : [];
      await w?.stop();
      await d?.stop();
      snaps.splice(0, snaps.length, ...kept, `m${++round}`);
      await config(snaps, false);
      await lab.apply();
      return { commitMs: stepMs(run.events, 'commit'), writes, seconds: (run.to - run.from) / 1000 };
    };
    const live = await merge(true);
    const off = await merge(false);
    const limited = await merge(true, '64MiB/s');

    const line = (label: string, value: string) => process.stdout.write(`  ${label.padEnd(64)} ${value}\n`);
    process.stdout.write(`\nlvchain live benchmark, directory backend (${lab.root})\n\n`);
    line(
      'writer latency, no lvchain (first 200 writes)',
      `p50 ${ms(pct(quiet, 50))}  p99 ${ms(pct(quiet, 99))}  max ${ms(Math.max(...quiet))}`,
    );
    line(
      `writer latency during ${SNAPSHOTS} live snapshots (${during.length} writes)`,
      `p50 ${ms(pct(during, 50))}  p99 ${ms(pct(during, 99))}  max ${ms(Math.max(...during))}`,
    );
    const span = stepsSpan(offline.events);
    line(
      'offline snapshot of the same guest, first step to last',
      `${ms(span)}: a VM paused for it stalls at least that long`,
    );
    line('  ratio: longest live stall / offline span', `${(Math.max(...during) / span).toFixed(2)}×`);
    line(
      'live commit of 256 MiB (block-commit, with pivot)',
      `${ms(live.commitMs)}  ${rate(MOVE, live.commitMs)}`,
    );
    line('offline commit of 256 MiB (qemu-img commit)', `${ms(off.commitMs)}  ${rate(MOVE, off.commitMs)}`);
    line('  ratio: live / offline throughput', `${(off.commitMs / live.commitMs).toFixed(2)}×`);
    line(
      'guest writes per second during the apply of a live merge',
      `${(live.writes.length / live.seconds).toFixed(0)} (p99 ${ms(pct(live.writes, 99))})`,
    );
    line(
      'the same with mergeRate 64MiB/s',
      `${(limited.writes.length / limited.seconds).toFixed(0)} (p99 ${ms(pct(limited.writes, 99))}); commit ${ms(limited.commitMs)}`,
    );
    line(
      'guest writes per second, no lvchain',
      `${(1000 / pct(quiet, 50)).toFixed(0)} (from the p50 latency)`,
    );
  } finally {
    await qsd?.stop();
    await lab.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
