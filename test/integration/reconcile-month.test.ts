/**
 * Simulated weeks of `lvchain reconcile` on real qcow2 images keep exactly what the policy says.
 *
 * Every hour (across Berlin's fall-back on 2026-10-25) a little data is written and reconcile runs
 * with its clock at that hour. After every run the retained set must be exactly what the policy
 * says, computed here from the list of snapshot instants by a separate reference implementation
 * (not src/plan/retention.ts), and the chain no deeper than the policy's bound. Each snapshot's
 * expected view is recorded when it is taken; the retained snapshots are read back daily and at
 * the end.
 *
 * The suite runs ten days under `hourly: 24, daily: 3, weekly: 2` (241 runs): long enough for
 * every rule to prune, across the fall-back. `npm run test:month` runs the whole month, 720 runs
 * under `hourly: 24, daily: 7, weekly: 4`, which took 12 of the suite's 45 minutes in CI.
 *
 * reconcile runs in-process (the same function the CLI calls) with an Io whose clock is the
 * simulated instant: hundreds of Node start-ups would cost minutes on their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { reconcileCommand } from '../../src/pipeline/reconcile.js';
import { styleFor, type GlobalOptions, type Io } from '../../src/pipeline/io.js';
import type { CommandEvent } from '../../src/exec/executor.js';
import { worstCaseRetained } from '../../src/policy/schedule.js';

const ZONE = 'Europe/Berlin';
const CRON = '0 * * * *';
const FULL = process.env.LVCHAIN_RECONCILE_MONTH === 'full';
const SCENARIO = FULL
  ? {
      title: 'a simulated month of hourly reconcile runs',
      rules: { hourly: 24, daily: 7, weekly: 4 },
      // 1 + 23 + 6 + 3: the newest, and one more per further hourly, daily and weekly bucket.
      maxDepth: 33,
      /** 2026-10-10 00:00 in Berlin (CEST); the 720th run is 2026-11-08 22:00 CET. */
      start: Date.parse('2026-10-09T22:00:00Z'),
      runs: 720,
    }
  : {
      title: 'ten simulated days of hourly reconcile runs (npm run test:month runs a month)',
      rules: { hourly: 24, daily: 3, weekly: 2 },
      // 1 + 23 + 2 + 1.
      maxDepth: 27,
      /** Saturday 2026-10-17 00:00 in Berlin (CEST); the 241st run is Tuesday 2026-10-27 00:00 CET, a third week. */
      start: Date.parse('2026-10-16T22:00:00Z'),
      runs: 241,
    };
const RULES = SCENARIO.rules;
const MAX_DEPTH = SCENARIO.maxDepth;
const DISK = 'vm-800-disk-0';
const KiB = 1024;
const SIZE = 2 * 1024 * KiB;
const CHUNK = 16 * KiB;
const HOUR = 3_600_000;
const START = SCENARIO.start;
const RUNS = SCENARIO.runs;

// ---- The reference: "the N most recent non-empty local-calendar buckets keep their newest member".

const parts = new Intl.DateTimeFormat('en-US', {
  timeZone: ZONE,
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
});

function local(t: number): { y: number; m: number; d: number; h: number; offset: string } {
  const p = Object.fromEntries(parts.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return {
    y: Number(p['year']),
    m: Number(p['month']),
    d: Number(p['day']),
    h: Number(p['hour']),
    offset: String(p['timeZoneName']),
  };
}

/** Bucket of an instant: the local hour (with its offset, so a repeated hour is two), day, or Monday-started week. */
function bucket(unit: keyof typeof RULES, t: number): string {
  const { y, m, d, h, offset } = local(t);
  const day = Date.UTC(y, m - 1, d);
  switch (unit) {
    case 'hourly':
      return `${y}-${m}-${d} ${h} ${offset}`;
    case 'daily':
      return new Date(day).toISOString().slice(0, 10);
    case 'weekly': {
      const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
      return new Date(day - sinceMonday * 86_400_000).toISOString().slice(0, 10);
    }
  }
}

function expectedRetained(instants: readonly number[]): Set<number> {
  const newestFirst = [...instants].sort((a, b) => b - a);
  const kept = new Set<number>(newestFirst.slice(0, 1));
  for (const unit of Object.keys(RULES) as (keyof typeof RULES)[]) {
    const seen = new Set<string>();
    for (const t of newestFirst) {
      if (seen.size === RULES[unit]) break;
      const key = bucket(unit, t);
      if (seen.has(key)) continue;
      seen.add(key);
      kept.add(t);
    }
  }
  return kept;
}

/** auto-YYYYMMDDTHHMMZ, as the issue names auto snapshots. */
const nameOf = (t: number) => {
  const iso = new Date(t).toISOString();
  return `auto-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
};

// ---- The simulated host.

function simulatedIo(now: () => number, lines: string[], commands: CommandEvent[]): Io {
  return {
    out: (t) => void lines.push(t),
    err: (t) => void lines.push(t),
    style: styleFor(false),
    interactive: false,
    automation: true,
    clock: now,
    ask: () => Promise.reject(new Error('reconcile must never ask')),
    onCommand: (e) => void commands.push(e),
  };
}

describe(SCENARIO.title, () => {
  let lab: DirLab;
  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
    lab = await DirLab.create('lvchain-month-');
    // The disk first, without a policy, so that every snapshot of the month is reconcile's.
    await lab.writeRawConfig({
      version: 1,
      directories: { lab: { path: './store' } },
      disks: { [DISK]: { storage: 'lab', size: '2MiB' } },
    });
    await lab.apply('--now', new Date(START - HOUR).toISOString());
    await lab.writeRawConfig({
      version: 1,
      directories: { lab: { path: './store' } },
      policies: {
        month: {
          timezone: ZONE,
          schedule: CRON,
          retention: RULES,
          maxChainDepth: MAX_DEPTH,
        },
      },
      disks: { [DISK]: { storage: 'lab', size: '2MiB', policy: 'month' } },
    });
    const v = await lab.run(['validate']);
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
  });
  afterAll(async () => lab?.dispose());

  async function retainedSnapshots(): Promise<string[]> {
    const prefix = 'snap-';
    const suffix = `-${DISK}.qcow2`;
    return (await readdir(lab.diskDir(DISK)))
      .filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
      .map((f) => f.slice(prefix.length, -suffix.length))
      .sort();
  }

  it('keeps exactly what the policy says after every run, within the depth bound, and every kept snapshot reads its own data', async () => {
    const bound = worstCaseRetained(RULES, { cron: CRON, timezone: ZONE }, 0);
    if (bound === 'unbounded') throw new Error('the policy must have a depth bound');
    expect(bound).toBe(MAX_DEPTH);
    const g: GlobalOptions = { config: lab.configPath, color: false };
    const expected = new ExpectedDisk(SIZE);
    const viewAt = new Map<string, string>();
    const taken: number[] = [];
    const commands: CommandEvent[] = [];
    const timings = { write: 0, reconcile: 0, verify: 0 };
    let pruned = 0;
    let maxDepth = 0;
    /** Each snapshot's greatest age, in hours, at which a run kept it. */
    const keptAtAge = new Map<string, number>();
    let now = START;

    const verifyViews = async (names: readonly string[]) => {
      const t0 = performance.now();
      // The chain qemu reads: the top on the newest snapshot, each on the previous one, as deep as
      // the files say.
      const info = await execa('qemu-img', ['info', '-U', '--backing-chain', '--output=json', lab.top(DISK)]);
      const chain = (JSON.parse(info.stdout) as { filename: string }[]).map((l) => l.filename);
      expect(chain.map((f) => f.split('/').at(-1))).toEqual([
        `${DISK}.qcow2`,
        ...[...names].reverse().map((n) => `snap-${n}-${DISK}.qcow2`),
      ]);
      for (const name of names) {
        expect(await viewDigest(lab.snap(DISK, name)), `${name} reads what it held when taken`).toBe(
          viewAt.get(name),
        );
      }
      expect(await viewDigest(lab.top(DISK)), 'the top reads everything written').toBe(expected.digest());
      timings.verify += performance.now() - t0;
    };

    const wall0 = performance.now();
    for (let run = 0; run < RUNS; run++) {
      now = START + run * HOUR;
      // A distinct pattern at a distinct place every hour, so every snapshot has its own view.
      let t0 = performance.now();
      const offset = (run * CHUNK) % SIZE;
      const pattern = (run % 254) + 1;
      await writePattern(lab.top(DISK), offset, CHUNK, pattern);
      expected.write(offset, CHUNK, pattern);
      timings.write += performance.now() - t0;

      t0 = performance.now();
      const lines: string[] = [];
      const code = await reconcileCommand(
        g,
        { json: false, lockTimeoutMs: 0, allowMassDelete: false },
        simulatedIo(() => now, lines, commands),
      );
      timings.reconcile += performance.now() - t0;
      const at = new Date(now).toISOString();
      expect(code, `run at ${at}:\n${lines.join('\n')}`).toBe(0);
      const summary = /^lvchain reconcile ok: 1 snapshot\(s\) taken, (\d+) pruned, 0 resumed \(/.exec(
        lines.at(-1) ?? '',
      );
      expect(summary, `run at ${at}:\n${lines.join('\n')}`).not.toBeNull();
      pruned += Number(summary?.[1]);
      taken.push(now);
      viewAt.set(nameOf(now), expected.digest());

      const retained = await retainedSnapshots();
      maxDepth = Math.max(maxDepth, retained.length);
      for (const name of retained) {
        const t = taken.find((x) => nameOf(x) === name) ?? now;
        keptAtAge.set(name, Math.max(keptAtAge.get(name) ?? 0, (now - t) / HOUR));
      }
      expect(retained.length, `chain depth after the run at ${at}`).toBeLessThanOrEqual(bound);
      expect(retained, `retained set after the run at ${at}`).toEqual(
        [...expectedRetained(taken)].map(nameOf).sort(),
      );
      // Daily, at local noon: the chain, and what every retained snapshot and the top read.
      if (local(now).h === 12) await verifyViews(retained);
    }
    const wall = performance.now() - wall0;

    const retained = await retainedSnapshots();
    expect(pruned).toBe(RUNS - retained.length);
    // The scenario is long enough for each rule to have kept a snapshot and later let it go: one
    // kept past the hourly window (a daily or weekly), and one past the daily window (a weekly).
    const letGo = [...keptAtAge].filter(([name]) => !retained.includes(name)).map(([, age]) => age);
    expect(
      letGo.some((age) => age >= 24),
      'a daily or weekly snapshot was pruned',
    ).toBe(true);
    expect(
      letGo.some((age) => age >= 24 * (RULES.daily + 1)),
      'a weekly snapshot was pruned',
    ).toBe(true);
    // Metadata carries the creation instant; the name is only for people.
    const sidecar = JSON.parse(await readFile(`${lab.diskDir(DISK)}/${DISK}.lvchain.json`, 'utf8')) as {
      layers: Record<string, { snap?: string; created?: string; kind?: string }>;
    };
    for (const name of retained) {
      const meta = sidecar.layers[`snap-${name}-${DISK}.qcow2`];
      expect(meta?.kind).toBe('auto');
      expect(Date.parse(meta?.created ?? '')).toBe(taken.find((t) => nameOf(t) === name));
    }
    await verifyViews(retained);

    // Where the time goes, for the report: per command name, and per phase.
    const byTool = new Map<string, { n: number; ms: number }>();
    for (const c of commands) {
      const key = c.argv.slice(0, 2).join(' ');
      const e = byTool.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += c.durationMs;
      byTool.set(key, e);
    }
    console.log(
      [
        `${RUNS} runs in ${(wall / 1000).toFixed(1)}s; max depth ${maxDepth}/${bound}; ${pruned} pruned`,
        `  writes ${(timings.write / 1000).toFixed(1)}s, reconcile ${(timings.reconcile / 1000).toFixed(1)}s, verification ${(timings.verify / 1000).toFixed(1)}s`,
        ...[...byTool]
          .sort((a, b) => b[1].ms - a[1].ms)
          .map(([k, e]) => `  ${k}: ${e.n} run(s), ${(e.ms / 1000).toFixed(1)}s`),
      ].join('\n'),
    );
    // Measured on the 2-core reference machine, the month alone: about 5.5 minutes, nearly all of it
    // reconcile's own processes (about 14 qemu-img and 2 sh per run at depth 33); the summary above
    // breaks it down.
  }, 1_200_000);
});
