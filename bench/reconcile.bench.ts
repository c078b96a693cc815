/**
 * `npm run bench:reconcile` (issue 14, acceptance 5): what a reconcile costs in commands as the
 * number of disks grows, on the directory backend. Each of N disks (4 MiB, two daily snapshots
 * with data) has one merge due: the policy is cut from two daily snapshots to one, an hour after
 * the last slot, so no snapshot is due. Prints, from `--command-log`, the commands a plan and the
 * reconcile run, and the qemu-img commands per disk besides the merge's own (the copy and the
 * backing switch of a stream, or the commit), and the plan's wall time (median of
 * LVCHAIN_BENCH_ROUNDS runs, default 5).
 *
 * LVCHAIN_BENCH_DISKS sets the sizes (default "1,10,100"). Runs the built CLI: `npm run build` first.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../test/helpers/dirlab.js';
import { writePattern } from '../test/helpers/data.js';
import { requireTool } from '../test/helpers/tools.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MiB = 1024 * 1024;
const ROUNDS = Number(process.env['LVCHAIN_BENCH_ROUNDS'] ?? 5);
const SIZES = (process.env['LVCHAIN_BENCH_DISKS'] ?? '1,10,100').split(',').map(Number);
const DAY0 = Date.parse('2026-06-01T03:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function config(disks: string[], daily: number): Record<string, unknown> {
  return {
    version: 1,
    directories: { lab: { path: './store' } },
    policies: { nightly: { timezone: 'UTC', schedule: '0 3 * * *', retention: { daily } } },
    disks: Object.fromEntries(disks.map((d) => [d, { storage: 'lab', size: '4MiB', policy: 'nightly' }])),
  };
}

async function succeed(lab: DirLab, args: string[]): Promise<void> {
  const r = await lab.run(args);
  if (r.exitCode !== 0 && r.exitCode !== 2)
    throw new Error(`${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

/** The argvs of a command log. */
async function logged(path: string): Promise<string[][]> {
  const text = await readFile(path, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
}

/** The merge's own commands: a commit, or a stream's copy-on-read and backing switch. */
const isMerge = (a: string[]) =>
  a.includes('commit') || a.includes('rebase') || a.some((x) => x.endsWith('qemu-io'));

async function measure(n: number): Promise<string> {
  const lab = await DirLab.create('lvchain-bench-reconcile-');
  try {
    const disks = Array.from({ length: n }, (_, i) => `vm-${1000 + i}-disk-0`);
    await lab.writeRawConfig(config(disks, 2));
    await succeed(lab, ['apply', '--auto-approve', '--now', iso(DAY0 - 2 * DAY)]);
    for (const [i, now] of [DAY0 - DAY, DAY0, undefined].entries()) {
      for (const d of disks) await writePattern(lab.top(d), i * MiB, MiB, 0x31 + i);
      if (now !== undefined) await succeed(lab, ['reconcile', '--now', iso(now)]);
    }
    await lab.writeRawConfig(config(disks, 1));
    const now = iso(DAY0 + HOUR);
    const planLog = join(lab.root, 'plan.ndjson');
    const walls: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await rm(planLog, { force: true });
      const t0 = performance.now();
      await succeed(lab, ['--command-log', planLog, 'plan', '--now', now]);
      walls.push((performance.now() - t0) / 1000);
    }
    const plan = await logged(planLog);
    const log = join(lab.root, 'reconcile.ndjson');
    await succeed(lab, ['--command-log', log, 'reconcile', '--now', now]);
    const run = await logged(log);
    const qemuImg = run.filter((a) => a[0] === 'qemu-img' || a[0]?.endsWith('qemu-io'));
    const besides = qemuImg.filter((a) => !isMerge(a)).length / n;
    return `  ${String(n).padStart(5)}  ${String(plan.length).padStart(13)}  ${median(walls).toFixed(2).padStart(9)} s  ${String(run.length).padStart(18)}  ${besides.toFixed(1).padStart(26)}`;
  } finally {
    await lab.dispose();
  }
}

async function main(): Promise<void> {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
  const rows: string[] = [];
  for (const n of SIZES) {
    process.stdout.write(`measuring ${n} disk(s)…\n`);
    rows.push(await measure(n));
  }
  console.log('\nlvchain reconcile benchmark: one merge due on every disk, directory backend');
  console.log(`plan wall time: median of ${ROUNDS}; commands from --command-log\n`);
  console.log('  disks  plan commands  plan wall  reconcile commands  qemu-img per disk, not merge');
  for (const r of rows) console.log(r);
}

await main();
