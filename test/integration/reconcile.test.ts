/**
 * `lvchain reconcile` and `--now` through the built CLI, on a directory
 * storage with real qemu-img and qemu-io. Downtime, the blast-radius and clock guards, previews
 * of a future run, guests as one snapshot group, and partial failures with conservative pruning.
 * Fixtures of many runs call reconcile in-process (the function the CLI calls) to save the Node
 * start-up of each; everything asserted runs the CLI as a timer would.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, holdOpen, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { reconcileCommand } from '../../src/pipeline/reconcile.js';
import { styleFor, type Io } from '../../src/pipeline/io.js';
import type { Plan } from '../../src/model/plan.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SIZE = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;
const iso = (t: number) => new Date(t).toISOString();
/** auto-YYYYMMDDTHHMMZ: the name reconcile gives a snapshot taken at `t`. */
const auto = (t: number) => `auto-${iso(t).slice(0, 16).replace(/[-:]/g, '')}Z`;

const labs: DirLab[] = [];
async function newLab(config: Record<string, unknown>): Promise<DirLab> {
  const lab = await DirLab.create('lvchain-reconcile-');
  labs.push(lab);
  await lab.writeRawConfig(config);
  return lab;
}

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.dispose()));
});

function config(
  policies: Record<string, Record<string, unknown>>,
  groups: { guests?: Record<string, unknown>; disks?: Record<string, unknown> },
): Record<string, unknown> {
  return { version: 1, directories: { lab: { path: './store' } }, policies, ...groups };
}

/** Snapshot names of a disk, from the files on the storage, sorted (= by time, for auto names). */
async function snapshotsOf(lab: DirLab, disk: string): Promise<string[]> {
  const suffix = `-${disk}.qcow2`;
  return (await readdir(lab.diskDir(disk)))
    .filter((f) => f.startsWith('snap-') && f.endsWith(suffix))
    .map((f) => f.slice('snap-'.length, -suffix.length))
    .sort();
}

/** Every file of the images directory with its size and mtime: proof that nothing changed. */
async function imagesTree(lab: DirLab): Promise<string[]> {
  return (await lab.snapshotTree()).filter((l) => l.startsWith(join(lab.storePath, 'images')));
}

async function sidecar(lab: DirLab, disk: string) {
  return JSON.parse(await readFile(join(lab.diskDir(disk), `${disk}.lvchain.json`), 'utf8')) as {
    layers: Record<string, { snap?: string; created?: string; kind?: string; guest?: string }>;
  };
}

/** reconcile in this process at `now`, for fixtures; fails the test unless it succeeds. */
async function reconcileInProcess(lab: DirLab, now: number): Promise<string> {
  const lines: string[] = [];
  const io: Io = {
    out: (t) => void lines.push(t),
    err: (t) => void lines.push(t),
    style: styleFor(false),
    interactive: false,
    automation: true,
    clock: () => now,
    ask: () => Promise.reject(new Error('reconcile must never ask')),
  };
  const code = await reconcileCommand(
    { config: lab.configPath, color: false },
    { json: false, lockTimeoutMs: 0, allowMassDelete: false },
    io,
  );
  if (code !== 0) throw new Error(`reconcile at ${iso(now)} exited ${code}:\n${lines.join('\n')}`);
  return lines.join('\n');
}

interface Summary {
  type: string;
  reconcile: {
    snapshots: number;
    pruned: number;
    resumed: number;
    failed: number;
    skipped: number;
    refused: number;
    ok: boolean;
  };
}

function summaryOf(ndjson: string): Summary['reconcile'] {
  const events = ndjson
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Summary);
  const last = events.at(-1);
  expect(last?.type, ndjson).toBe('reconcile_summary');
  return (last as Summary).reconcile;
}

describe('downtime', () => {
  it('after 30 days without runs, takes exactly one catch-up snapshot, and daily: 7 keeps the 7 newest', async () => {
    const disk = 'vm-501-disk-0';
    // 03:00 in Berlin, winter time: 02:00Z. The gap crosses the spring-forward of 2026-03-29.
    const day0 = Date.parse('2026-03-01T02:00:00Z');
    const lab = await newLab(config({}, { disks: { [disk]: { storage: 'lab', size: '4MiB' } } }));
    await lab.apply('--now', iso(day0 - DAY));
    await lab.writeRawConfig(
      config(
        { nightly: { timezone: 'Europe/Berlin', schedule: '0 3 * * *', retention: { daily: 7 } } },
        { disks: { [disk]: { storage: 'lab', size: '4MiB', policy: 'nightly' } } },
      ),
    );
    const expected = new ExpectedDisk(SIZE);
    const views = new Map<string, string>();
    const write = async (i: number) => {
      await writePattern(lab.top(disk), i * CHUNK, CHUNK, 0x10 + i);
      expected.write(i * CHUNK, CHUNK, 0x10 + i);
    };

    const taken: number[] = [];
    for (let i = 0; i < 10; i++) {
      const now = day0 + i * DAY;
      await write(i);
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`^lvchain reconcile ok: 1 snapshot\\(s\\) taken, ${i < 7 ? 0 : 1} pruned, 0 resumed \\(`),
      );
      taken.push(now);
      views.set(auto(now), expected.digest());
    }
    expect(await snapshotsOf(lab, disk)).toEqual(taken.slice(3).map(auto));

    // 30 days later, at 03:00 summer time (01:00Z): 29 slots were missed; one snapshot catches up.
    const back = Date.parse('2026-04-09T01:00:00Z');
    await write(10);
    const r = await lab.run(['reconcile', '--json', '--now', iso(back)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toEqual({
      snapshots: 1,
      pruned: 1,
      resumed: 0,
      failed: 0,
      skipped: 0,
      refused: 0,
      waiting: 0,
      missing: 0,
      ok: true,
    });
    views.set(auto(back), expected.digest());
    // The 6 newest from before the gap survive: counting non-empty days, time alone ages nothing out.
    const kept = [...taken.slice(4), back].map(auto);
    expect(await snapshotsOf(lab, disk)).toEqual(kept);

    // Later the same day: not due, and nothing more to prune.
    const again = await lab.run(['reconcile', '--now', iso(back + 12 * HOUR)]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^lvchain reconcile ok: 0 snapshot\(s\) taken, 0 pruned, 0 resumed \(/);
    expect(await snapshotsOf(lab, disk)).toEqual(kept);

    for (const name of kept) expect(await viewDigest(lab.snap(disk, name)), name).toBe(views.get(name));
    expect(await viewDigest(lab.top(disk))).toBe(expected.digest());
  });
});

describe('blast radius and clock guards', () => {
  it('refuses a policy change that would delete 30 snapshots with maxDeletesPerRun: 10, in plan, apply and reconcile', async () => {
    const disk = 'vm-502-disk-0';
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    const policy = (retention: Record<string, unknown>, maxDeletesPerRun: number) =>
      config(
        {
          hourly: {
            timezone: 'Europe/Berlin',
            schedule: '0 * * * *',
            retention,
            maxChainDepth: 40,
            maxDeletesPerRun,
          },
        },
        { disks: { [disk]: { storage: 'lab', size: '4MiB', policy: 'hourly' } } },
      );
    const lab = await newLab(config({}, { disks: { [disk]: { storage: 'lab', size: '4MiB' } } }));
    await lab.apply('--now', iso(t0 - HOUR));
    await lab.writeRawConfig(policy({ last: 31 }, 10));
    const expected = new ExpectedDisk(SIZE);
    for (let h = 0; h < 31; h++) {
      await writePattern(lab.top(disk), h * CHUNK, CHUNK, 0x40 + h);
      expected.write(h * CHUNK, CHUNK, 0x40 + h);
      await reconcileInProcess(lab, t0 + h * HOUR);
    }
    const before = await snapshotsOf(lab, disk);
    expect(before).toHaveLength(31);
    const newest = t0 + 30 * HOUR;

    // The change: keep only the last one. 30 deletions > 10.
    await lab.writeRawConfig(policy({ last: 1 }, 10));
    const refusal = (n: number) =>
      `retention refused: retention would delete ${n} snapshots, more than maxDeletesPerRun (10): nothing is deleted`;
    const tree = await imagesTree(lab);
    const midSlot = iso(newest + 20 * 60_000);

    const plan = await lab.run(['plan', '--now', midSlot, '--out', 'refused.json']);
    expect(plan.exitCode, plan.stdout).toBe(1);
    expect(plan.stdout + plan.stderr).toContain(refusal(30));
    const saved = JSON.parse(await readFile(join(lab.root, 'refused.json'), 'utf8')) as Plan;
    expect(saved.resource_changes.filter((c) => c.operation.op === 'delete')).toEqual([]);

    const apply = await lab.run(['apply', '--auto-approve', '--now', midSlot]);
    expect(apply.exitCode, apply.stdout).toBe(1);
    expect(apply.stdout + apply.stderr).toContain(refusal(30));
    expect(await imagesTree(lab), 'apply changed nothing').toEqual(tree);

    // reconcile at the next slot still takes its snapshot (creating is always safe), prunes nothing.
    const next = newest + HOUR;
    await writePattern(lab.top(disk), 31 * CHUNK, CHUNK, 0x7f);
    expected.write(31 * CHUNK, CHUNK, 0x7f);
    const rec = await lab.run(['reconcile', '--now', iso(next)]);
    expect(rec.exitCode, rec.stdout).toBe(1);
    expect(rec.stderr).toContain(refusal(31));
    expect(rec.stderr).toMatch(
      /lvchain reconcile failed: 1 snapshot\(s\) taken, 0 pruned, 0 resumed, retention refused for 1 group\(s\) \(/,
    );
    expect(await snapshotsOf(lab, disk)).toEqual([...before, auto(next)]);
    const untouched = tree.filter((l) => l.includes('/snap-'));
    expect(untouched).toHaveLength(31);
    const after = new Set(await imagesTree(lab));
    for (const line of untouched) expect(after.has(line), `${line} is untouched`).toBe(true);

    // A clock behind the newest snapshot is refused too, even where the count guard would allow it.
    await lab.writeRawConfig(policy({ last: 1 }, 100));
    const behind = iso(next - 10 * HOUR);
    const frozen = await imagesTree(lab);
    const late = await lab.run(['reconcile', '--now', behind]);
    expect(late.exitCode, late.stdout).toBe(1);
    expect(late.stderr).toContain(
      `retention refused: the clock (${behind}) is behind snapshot ${auto(next)} (${iso(next)})`,
    );
    expect(late.stderr).toMatch(
      /lvchain reconcile failed: 0 snapshot\(s\) taken, 0 pruned, 0 resumed, retention refused for 1 group\(s\) \(/,
    );
    const latePlan = await lab.run(['plan', '--now', behind]);
    expect(latePlan.exitCode).toBe(1);
    expect(latePlan.stdout + latePlan.stderr).toContain('is behind snapshot');
    expect(await imagesTree(lab), 'nothing changed').toEqual(frozen);

    // The explicit flag accepts the mass deletion, and what is left still reads its data.
    await lab.writeRawConfig(policy({ last: 1 }, 10));
    const forced = await lab.run(['reconcile', '--allow-mass-delete', '--now', iso(next + 10 * 60_000)]);
    expect(forced.exitCode, forced.stdout + forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^lvchain reconcile ok: 0 snapshot\(s\) taken, 31 pruned, 0 resumed \(/);
    expect(await snapshotsOf(lab, disk)).toEqual([auto(next)]);
    expect(await viewDigest(lab.snap(disk, auto(next)))).toBe(expected.digest());
    expect(await viewDigest(lab.top(disk))).toBe(expected.digest());
  });
});

describe('--now previews a future run', () => {
  it('plan --now Sunday 03:00 shows the snapshot and the deletion reconcile will make then, and changes nothing', async () => {
    const disk = 'vm-503-disk-0';
    // Thursday 2026-11-19 to Saturday 2026-11-21, 03:00 in Berlin (02:00Z); Sunday is the 22nd.
    const thursday = Date.parse('2026-11-19T02:00:00Z');
    const sunday = thursday + 3 * DAY;
    expect(new Date(sunday).getUTCDay()).toBe(0);
    const lab = await newLab(
      config(
        { nightly: { timezone: 'Europe/Berlin', schedule: '0 3 * * *', retention: { daily: 3 } } },
        { disks: { [disk]: { storage: 'lab', size: '4MiB', policy: 'nightly' } } },
      ),
    );
    await lab.apply('--now', iso(thursday));
    for (const d of [1, 2]) await reconcileInProcess(lab, thursday + d * DAY);
    expect(await snapshotsOf(lab, disk)).toEqual([0, 1, 2].map((d) => auto(thursday + d * DAY)));
    const tree = await imagesTree(lab);

    const preview = await lab.run(['plan', '--now', '2026-11-22T03:00:00+01:00', '--out', 'sunday.json']);
    expect(preview.exitCode, preview.stderr).toBe(0);
    expect(preview.stdout).toContain(`+ snapshot "${disk}@${auto(sunday)}" {`);
    expect(preview.stdout).toContain(`(because schedule "0 3 * * *" in Europe/Berlin is due)`);
    expect(preview.stdout).toContain(`- snapshot "${disk}@${auto(thursday)}" {`);
    expect(preview.stdout).toMatch(
      /^Plan: 1 to add, 0 to change, 0 to destroy; 1 snapshot to merge away \(.* to copy\)\.$/m,
    );
    const plan = JSON.parse(await readFile(join(lab.root, 'sunday.json'), 'utf8')) as Plan;
    const changes = plan.resource_changes.map((c) => [c.operation.op, c.address]);
    expect(changes).toEqual([
      ['snapshot', `snapshot.${disk}@${auto(sunday)}`],
      ['delete', `snapshot.${disk}@${auto(thursday)}`],
    ]);
    expect(await imagesTree(lab), 'plan changed nothing').toEqual(tree);

    // Today (Saturday afternoon) reconcile has nothing to do; on Sunday it does what the preview said.
    const today = await lab.run(['reconcile', '--now', iso(thursday + 2 * DAY + 12 * HOUR)]);
    expect(today.stdout).toMatch(/^lvchain reconcile ok: 0 snapshot\(s\) taken, 0 pruned, 0 resumed \(/);
    const then = await lab.run(['reconcile', '--now', '2026-11-22T03:00:00+01:00']);
    expect(then.exitCode, then.stderr).toBe(0);
    expect(then.stdout).toMatch(/^lvchain reconcile ok: 1 snapshot\(s\) taken, 1 pruned, 0 resumed \(/);
    expect(await snapshotsOf(lab, disk)).toEqual([1, 2, 3].map((d) => auto(thursday + d * DAY)));
  });
});

describe('guests', () => {
  it('snapshots all disks of a guest under one name and one time, and prunes them together', async () => {
    const disks = ['vm-401-disk-0', 'vm-401-disk-1', 'vm-401-disk-2'];
    // Well in the past, so that the last run can use the real clock.
    const t0 = Date.parse('2024-06-03T00:00:00Z');
    const lab = await newLab(
      config(
        {
          hourly: { timezone: 'Europe/Berlin', schedule: '0 * * * *', retention: { last: 3 } },
        },
        {
          guests: {
            web: {
              storage: 'lab',
              policy: 'hourly',
              disks: Object.fromEntries(disks.map((d) => [d, { size: '4MiB' }])),
            },
          },
        },
      ),
    );
    await lab.apply('--now', iso(t0));
    const expected = disks.map(() => new ExpectedDisk(SIZE));
    const views = new Map<string, string>();
    const hour = async (h: number) => {
      for (const [i, d] of disks.entries()) {
        const pattern = 0x20 + h * disks.length + i;
        await writePattern(lab.top(d), h * CHUNK, CHUNK, pattern);
        expected[i]?.write(h * CHUNK, CHUNK, pattern);
      }
    };
    const sameSnapshotsOnEveryDisk = async () => {
      const [first, ...rest] = await Promise.all(disks.map((d) => snapshotsOf(lab, d)));
      for (const n of rest) expect(n).toEqual(first);
      return first ?? [];
    };
    const record = (name: string) =>
      disks.forEach((d, i) => views.set(`${d}@${name}`, expected[i]?.digest() ?? ''));
    record(auto(t0));
    for (let h = 1; h < 6; h++) {
      await hour(h);
      const r = await lab.run(['reconcile', '--now', iso(t0 + h * HOUR)]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`^lvchain reconcile ok: 3 snapshot\\(s\\) taken, ${h < 3 ? 0 : 3} pruned, 0 resumed`),
      );
      record(auto(t0 + h * HOUR));
      await sameSnapshotsOnEveryDisk();
    }

    // The real clock: the disks are snapshotted one after another, yet under one name and time.
    await hour(6);
    const started = Date.now();
    const r = await lab.run(['reconcile']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^lvchain reconcile ok: 3 snapshot\(s\) taken, 3 pruned, 0 resumed/);

    const names = await sameSnapshotsOnEveryDisk();
    expect(names.slice(0, 2)).toEqual([auto(t0 + 4 * HOUR), auto(t0 + 5 * HOUR)]);
    const meta = await Promise.all(disks.map(async (d) => (await sidecar(lab, d)).layers));
    const createdOf = (name: string) => meta.map((m, i) => m[`snap-${name}-${disks[i]}.qcow2`]?.created);
    const latest = names[2] ?? '';
    const when = Date.parse(createdOf(latest)[0] ?? '');
    expect(when).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
    expect(when).toBeLessThanOrEqual(Date.now());
    record(latest);
    for (const name of names) {
      // One name and one instant across the disks, named after that instant; each disk its own data.
      const created = createdOf(name);
      expect(new Set(created).size, `${name}: ${created.join(', ')}`).toBe(1);
      expect(auto(Date.parse(created[0] ?? ''))).toBe(name);
      for (const [i, d] of disks.entries()) {
        expect(meta[i]?.[`snap-${name}-${d}.qcow2`]).toMatchObject({
          snap: name,
          kind: 'auto',
          guest: 'web',
        });
        expect(await viewDigest(lab.snap(d, name)), `${d}@${name}`).toBe(views.get(`${d}@${name}`));
      }
    }
  });
});

describe('guests: a prune that fails on one disk', () => {
  // A guest's deletions of one name are one group: apply checks every disk before it merges any,
  // so one disk in use cannot leave the disks with different snapshots (which retention would then
  // see as incomplete and never delete).
  it('deletes nothing of the guest while one disk is in use, and all of it once the disk is free', async () => {
    const disks = ['vm-402-disk-0', 'vm-402-disk-1'];
    const t0 = Date.parse('2026-03-02T00:00:00Z');
    const withLast = (last: number) =>
      config(
        { hourly: { timezone: 'Europe/Berlin', schedule: '0 * * * *', retention: { last } } },
        {
          guests: {
            db: {
              storage: 'lab',
              policy: 'hourly',
              disks: Object.fromEntries(disks.map((d) => [d, { size: '4MiB' }])),
            },
          },
        },
      );
    const lab = await newLab(withLast(3));
    await lab.apply('--now', iso(t0));
    await reconcileInProcess(lab, t0 + HOUR);
    await reconcileInProcess(lab, t0 + 2 * HOUR);
    await lab.writeRawConfig(withLast(1));
    // Inside the 02:00 slot: nothing is due, so the runs below only prune.
    const now = t0 + 2 * HOUR + 10 * 60_000;
    const vm = await holdOpen(lab.top(disks[0] as string));
    try {
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain(`${disks[0]}.qcow2 is in use by another process`);
      const history = [0, 1, 2].map((h) => auto(t0 + h * HOUR));
      expect(await Promise.all(disks.map((d) => snapshotsOf(lab, d)))).toEqual(disks.map(() => history));
    } finally {
      await vm.release();
    }
    const again = await lab.run(['reconcile', '--now', iso(now + 10 * 60_000)]);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const left = await Promise.all(disks.map((d) => snapshotsOf(lab, d)));
    expect(left, `snapshots of ${disks.join(', ')} after the disk was freed`).toEqual(
      disks.map(() => [auto(t0 + 2 * HOUR)]),
    );
  });
});

describe('partial failure', () => {
  it('exits 1 when one group cannot be snapshotted, prunes in conservative mode, and keeps that group whole', async () => {
    const failing = ['vm-601-disk-0', 'vm-601-disk-1'];
    const healthy = 'vm-602-disk-0';
    const t0 = Date.parse('2026-03-02T00:00:00Z');
    // last 1 + within 3h: at t0+6h a normal run would keep only the newest snapshot.
    const lab = await newLab(
      config(
        {
          p: {
            timezone: 'Europe/Berlin',
            schedule: '0 * * * *',
            retention: { last: 1, within: '3h' },
          },
        },
        {
          guests: {
            a: {
              storage: 'lab',
              policy: 'p',
              disks: Object.fromEntries(failing.map((d) => [d, { size: '4MiB' }])),
            },
          },
          disks: { [healthy]: { storage: 'lab', size: '4MiB', policy: 'p' } },
        },
      ),
    );
    await lab.apply('--now', iso(t0));
    await reconcileInProcess(lab, t0 + HOUR);
    await reconcileInProcess(lab, t0 + 2 * HOUR);
    const history = [0, 1, 2].map((h) => auto(t0 + h * HOUR));
    for (const d of [...failing, healthy]) expect(await snapshotsOf(lab, d)).toEqual(history);

    const now = t0 + 6 * HOUR;
    // qemu-io holds the guest's second disk open read-write, with qemu's image lock, as a running VM
    // would: the first disk must not get a snapshot either.
    const vm = await holdOpen(lab.top(failing[1] as string));
    try {
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain(`Error: ${failing[1]}.qcow2 is in use by another process`);
      expect(r.stderr).toContain(`on snapshot.${failing[1]}@${auto(now)}`);
      expect(r.stderr).toContain('A snapshot failed: pruning in conservative mode (count rules only)');
      expect(r.stderr).toMatch(
        /lvchain reconcile failed: 1 snapshot\(s\) taken, 3 pruned, 0 resumed, 1 failed, 1 skipped \(/,
      );
      // The failing guest: no new snapshot on either disk (one group, one time), and nothing pruned,
      // though its history is older than `within 3h` and the unlocked disk could have been merged.
      for (const d of failing) expect(await snapshotsOf(lab, d), d).toEqual(history);
      // The healthy group went on: its snapshot, then its own pruning.
      expect(await snapshotsOf(lab, healthy)).toEqual([auto(now)]);
    } finally {
      await vm.release();
    }

    // The control: the same run once the disk is free prunes that history in the normal mode.
    const again = await lab.run(['reconcile', '--now', iso(now)]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^lvchain reconcile ok: 2 snapshot\(s\) taken, 6 pruned, 0 resumed \(/);
    for (const d of [...failing, healthy]) expect(await snapshotsOf(lab, d), d).toEqual([auto(now)]);
  });
});

describe('a declared disk not created yet', () => {
  // A disk added to the config with a policy but not applied yet: reconcile once planned a snapshot
  // of it, failed with "no interrupted snapshot … to resume", and refused the whole run.
  it("does not stop the other groups' snapshots, and names the disk without blaming an interrupted snapshot", async () => {
    const t0 = Date.parse('2026-03-02T00:00:00Z');
    const policies = {
      hourly: { timezone: 'Europe/Berlin', schedule: '0 * * * *', retention: { last: 3 } },
    };
    const old = { storage: 'lab', size: '4MiB', policy: 'hourly' };
    const lab = await newLab(config(policies, { disks: { 'vm-603-disk-0': old } }));
    await lab.apply('--now', iso(t0));
    await lab.writeRawConfig(config(policies, { disks: { 'vm-603-disk-0': old, 'vm-604-disk-0': old } }));
    const r = await lab.run(['reconcile', '--now', iso(t0 + HOUR)]);
    // Reconcile does not create disks; a declared disk that is missing is an unapplied config: the
    // timer fails, so someone runs apply.
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(
      'disk.vm-604-disk-0 is declared but does not exist on lab; reconcile does not create disks: run "lvchain apply"',
    );
    expect(r.stderr).toMatch(
      /lvchain reconcile failed: 1 snapshot\(s\) taken, 0 pruned, 0 resumed, 1 declared disk\(s\) not created \(/,
    );
    expect(r.stdout + r.stderr).not.toMatch(/no interrupted snapshot/);
    expect(await snapshotsOf(lab, 'vm-603-disk-0')).toEqual([auto(t0), auto(t0 + HOUR)]);
  });
});
