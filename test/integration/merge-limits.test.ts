/**
 * A policy's merge window and a storage's merge rate (issue 10 §2), on a directory storage:
 * reconcile over simulated hours takes every snapshot but prunes only inside the window, and
 * says why it waits; a rate reaches qemu-img's -r offline and a block job's speed live, and the
 * merges it limits still read back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plan } from '../../src/model/plan.js';
import { DirLab } from '../helpers/dirlab.js';
import { diskConfig } from '../helpers/configs.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';

const DISK = 'vm-831-disk-0';
const MiB = 1024 * 1024;
const HOUR = 3_600_000;
let lab: DirLab;
let qemu: StorageDaemon | undefined;

afterEach(async () => {
  await qemu?.stop();
  qemu = undefined;
  await lab.dispose();
});

const iso = (t: number) => new Date(t).toISOString();
const hhmm = (t: number) => iso(t).slice(11, 16);

/** The merge steps of a saved plan, with what they run. */
async function mergeSteps(file: string) {
  const plan = JSON.parse(await readFile(join(lab.root, file), 'utf8')) as Plan;
  return plan.resource_changes
    .flatMap((c) => c.x_steps)
    .filter((s) => s.step.kind === 'commit' || s.step.kind === 'stream');
}

describe('merge window', () => {
  it('takes every snapshot but prunes only inside the window, saying why it waits', async () => {
    lab = await DirLab.create('lvchain-merge-window-');
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    const start = end - 7 * HOUR;
    // Open for the 5th and 6th simulated hours only, in UTC.
    const window = `${hhmm(start + 4 * HOUR)}-${hhmm(start + 6 * HOUR)}`;
    await lab.writeRawConfig(
      diskConfig({
        disk: DISK,
        size: '8MiB',
        policy: 'hourly',
        policies: {
          hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 2 }, mergeWindow: window },
        },
      }),
    );
    await lab.apply('--now', iso(start - HOUR));
    const expected = new ExpectedDisk(8 * MiB);
    const views = new Map<string, string>();
    const counts: number[] = [];
    for (let h = 0; h < 8; h++) {
      const now = start + h * HOUR;
      if (h > 0) {
        await writePattern(lab.top(DISK), (h - 1) * MiB, MiB, 0x30 + h);
        expected.write((h - 1) * MiB, MiB, 0x30 + h);
      }
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const kept = await lab.snapshotsOf(DISK);
      counts.push(kept.length);
      views.set(kept[kept.length - 1] as string, expected.digest());
      const open = h === 4 || h === 5;
      if (!open && kept.length > 2)
        expect(r.stdout).toMatch(/, merges of 1 group\(s\) wait for their merge window/);
      if (open) expect(r.stdout).toMatch(/ pruned/);
    }
    // The first apply took one already. Grows while closed, back to 2 inside the window, grows
    // again after it.
    expect(counts).toEqual([2, 3, 4, 5, 2, 2, 3, 4]);
    const plan = await lab.run(['plan', '--now', iso(end)]);
    expect(plan.stdout + plan.stderr).toContain(
      `2 snapshot deletion(s) wait for the merge window of policy hourly: ${window} UTC, and it is ${hhmm(end)} there`,
    );
    for (const name of await lab.snapshotsOf(DISK))
      expect(await viewDigest(lab.snap(DISK, name)), name).toBe(views.get(name));
  });
});

describe('merge rate', () => {
  async function chain(rate: string, vm?: Record<string, unknown>, snapshots = ['s1', 's2']) {
    const config = diskConfig({ disk: DISK, size: '8MiB', snapshots, ...(vm ? { vm } : {}) });
    (config.directories as Record<string, Record<string, unknown>>).lab = {
      path: './store',
      mergeRate: rate,
    };
    await lab.writeRawConfig(config);
  }

  it('is qemu-img commit -r offline; a stream says it is not limited; what they merge reads back', async () => {
    lab = await DirLab.create('lvchain-merge-rate-');
    const expected = new ExpectedDisk(8 * MiB);
    await chain('2MiB/s');
    await lab.apply();
    for (const [i, name] of ['s1', 's2'].entries()) {
      await writePattern(lab.snap(DISK, name), i * MiB, 2 * MiB, 0x41 + i);
      expected.write(i * MiB, 2 * MiB, 0x41 + i);
    }
    await writePattern(lab.top(DISK), 4 * MiB, MiB, 0x51);
    const s2 = expected.clone();
    s2.write(4 * MiB, MiB, 0x51);
    await chain('2MiB/s', undefined, ['s2']);
    const planned = await lab.run(['plan', '--merge-direction', 'commit', '--out', 'commit.json']);
    expect(planned.exitCode, planned.stderr).toBe(0);
    expect(planned.stdout).toContain('at most 2 MiB/s');
    const [commit] = await mergeSteps('commit.json');
    expect(commit?.step).toMatchObject({ kind: 'commit', rate: 2 * MiB });
    const argv = commit?.commands.flatMap((c) => (c.kind === 'argv' ? [c.argv] : []))[0] ?? [];
    expect(argv.slice(argv.indexOf('-r'), argv.indexOf('-r') + 2)).toEqual(['-r', String(2 * MiB)]);
    const applied = await lab.run(['apply', '--auto-approve', 'commit.json']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await viewDigest(lab.snap(DISK, 's2'))).toBe(expected.digest());
    expect(await viewDigest(lab.top(DISK))).toBe(s2.digest());

    await chain('2MiB/s', undefined, []);
    const streamed = await lab.run(['plan', '--merge-direction', 'stream']);
    expect(streamed.stdout).toContain('not rate-limited: offline streams have no rate limit');
  });

  it("is the speed of a running VM's block job", async () => {
    lab = await DirLab.create('lvchain-merge-rate-');
    await chain('3MiB/s', undefined, ['s1']);
    await lab.apply();
    const expected = new ExpectedDisk(8 * MiB);
    await writePattern(lab.top(DISK), 0, 2 * MiB, 0x61);
    expected.write(0, 2 * MiB, 0x61);
    qemu = await startStorageDaemon({ [DISK]: lab.top(DISK) }, { exports: 'nbd', process: 'system' });
    await guestWrite(qemu.nbd(DISK), 2 * MiB, MiB, 0x62);
    expected.write(2 * MiB, MiB, 0x62);
    await chain('3MiB/s', { qmp: qemu.qmp, freeze: 'off' }, []);
    const planned = await lab.run(['plan', '--merge-direction', 'commit', '--out', 'live.json']);
    expect(planned.exitCode, planned.stderr).toBe(0);
    const [commit] = await mergeSteps('live.json');
    const job = commit?.commands
      .flatMap((c) => (c.kind === 'qmp' ? [c.message] : []))
      .find((m) => m.execute === 'block-commit');
    expect(job?.arguments).toMatchObject({ speed: 3 * MiB });
    // QEMU takes the speed (a misnamed argument would fail the job's start).
    const applied = await lab.run(['apply', '--auto-approve', 'live.json']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await guestView(qemu.nbd(DISK))).toBe(expected.digest());
    expect(await lab.snapshotsOf(DISK)).toEqual([]);
  });
});
