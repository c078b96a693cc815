/**
 * Reconcile reads each header once per run (issue 14): its second plan (pruning, after the run's
 * snapshots) reuses the headers its first plan read for every disk whose files did not change in
 * between, judged by each file's inode, size and change time. Counted in `--command-log`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MiB = 1024 * 1024;
const DISKS = ['vm-521-disk-0', 'vm-522-disk-0', 'vm-523-disk-0'];
const iso = (t: number) => new Date(t).toISOString();
let lab: DirLab;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await lab.dispose();
});

function config(daily: number): Record<string, unknown> {
  return {
    version: 1,
    directories: { lab: { path: './store' } },
    policies: { nightly: { timezone: 'UTC', schedule: '0 3 * * *', retention: { daily } } },
    disks: Object.fromEntries(DISKS.map((d) => [d, { storage: 'lab', size: '4MiB', policy: 'nightly' }])),
  };
}

describe('reconcile reads each header once', () => {
  it('prunes without a snapshot due: one header read per disk for both plans and apply', async () => {
    lab = await DirLab.create('lvchain-reconcile-reads-');
    const day0 = Date.parse('2026-06-01T03:00:00Z');
    await lab.writeRawConfig(config(2));
    await lab.apply('--now', iso(day0 - 2 * DAY));
    const expected = new Map(DISKS.map((d) => [d, new ExpectedDisk(4 * MiB)]));
    const write = async (i: number) => {
      for (const d of DISKS) {
        await writePattern(lab.top(d), i * MiB, MiB, 0x31 + i);
        expected.get(d)?.write(i * MiB, MiB, 0x31 + i);
      }
    };
    for (const [i, now] of [day0 - DAY, day0].entries()) {
      await write(i);
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    await write(2);
    // Keep one daily snapshot, an hour after the last slot: nothing is due, one merge per disk.
    await lab.writeRawConfig(config(1));
    const log = join(lab.root, 'commands.ndjson');
    const r = await lab.run(['--command-log', log, 'reconcile', '--now', iso(day0 + HOUR)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 snapshot\(s\) taken, 3 pruned/);
    const argvs = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    // The stream maps the two layers it merges to know what to copy: the plan's maps of the same,
    // unchanged files serve.
    const maps = argvs.filter((a) => a[0] === 'qemu-img' && a[1] === 'map').map((a) => a.join(' '));
    expect(maps).toHaveLength(2 * DISKS.length);
    expect(new Set(maps).size).toBe(maps.length);
    expect(argvs.filter((a) => a.some((x) => x.endsWith('qemu-io')))).toHaveLength(DISKS.length);
    // Nor did the search for linked clones before each merge: it read the backing of every image
    // the earlier merges had changed from the header itself.
    expect(argvs.filter((a) => a[0] === 'qemu-img' && a[1] === 'info')).toHaveLength(DISKS.length);
    for (const d of DISKS) {
      const infos = argvs.filter((a) => a[0] === 'qemu-img' && a[1] === 'info' && a.at(-1) === lab.top(d));
      // The first plan's read (with -U): the second plan and apply's look, which found the files
      // as that read left them and no lock on them in /proc/locks, ran none.
      expect(
        infos.map((a) => a.includes('-U')),
        `${d}: ${JSON.stringify(infos)}`,
      ).toEqual([true]);
      // The merge kept what the disk shows.
      expect(await viewDigest(lab.top(d))).toBe(expected.get(d)?.digest());
    }
  });
});
