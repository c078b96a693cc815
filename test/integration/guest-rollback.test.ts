/**
 * Rollback of a guest (issue 12 point 2): every disk of the guest back to one snapshot as one
 * group, read back byte for byte; no disk keeps a snapshot the others dropped; one disk of a
 * guest cannot drop the guest's newer snapshots alone; the plan states the size each disk
 * returns to.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { access } from 'node:fs/promises';
import { DirLab } from '../helpers/dirlab.js';
import { guestConfig } from '../helpers/configs.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';

const DISKS = ['vm-851-disk-0', 'vm-851-disk-1'];
const MiB = 1024 * 1024;
let lab: DirLab;

afterEach(async () => {
  await lab.dispose();
});

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function config(snapshots: string[], size = '8MiB'): Promise<void> {
  await lab.writeRawConfig(guestConfig({ guest: 'db', disks: DISKS, size, snapshots }));
}

/** Two snapshots with different data on each disk, and more written after them. */
async function history(): Promise<{ s1: string[]; s2: string[] }> {
  const expected = DISKS.map(() => new ExpectedDisk(8 * MiB));
  const write = async (at: number, pattern: number) => {
    for (const [i, d] of DISKS.entries()) {
      await writePattern(lab.top(d), at * MiB, MiB, pattern + i);
      expected[i]?.write(at * MiB, MiB, pattern + i);
    }
  };
  await config([]);
  await lab.apply();
  await write(0, 0x11);
  await config(['s1']);
  await lab.apply();
  const s1 = expected.map((e) => e.digest());
  await write(1, 0x21);
  await config(['s1', 's2']);
  await lab.apply();
  const s2 = expected.map((e) => e.digest());
  await write(2, 0x31);
  return { s1, s2 };
}

describe('rollback of a guest', () => {
  it('rolls every disk back to the newest snapshot together; a later plan has nothing to do', async () => {
    lab = await DirLab.create('lvchain-guest-rollback-');
    const { s2 } = await history();
    const r = await lab.run(['rollback', 'db', 's2', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) expect(await viewDigest(lab.top(d)), d).toBe(s2[i]);
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toContain('No changes');
  });

  it('with --discard-newer drops the newer snapshot from every disk: no orphan, both read the older one', async () => {
    lab = await DirLab.create('lvchain-guest-rollback-');
    const { s1 } = await history();
    const r = await lab.run(['rollback', 'db', 's1', '--discard-newer', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) {
      expect(await viewDigest(lab.top(d)), d).toBe(s1[i]);
      expect(await viewDigest(lab.snap(d, 's1')), d).toBe(s1[i]);
      expect(await exists(lab.snap(d, 's2')), `${d} keeps s2`).toBe(false);
    }
    await config(['s1']);
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toContain('No changes');
  });

  it('refuses to drop newer snapshots from one disk of the guest alone, naming the guest command; changes nothing', async () => {
    lab = await DirLab.create('lvchain-guest-rollback-');
    await history();
    // Every image with its size and mtime (the storage's lock file changes with each run).
    const images = async () => (await lab.snapshotTree()).filter((l) => l.includes('/images/'));
    const before = await images();
    const r = await lab.run(['rollback', DISKS[0] as string, 's1', '--discard-newer', '--auto-approve']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`${DISKS[0]} is one of the 2 disks of guest db`);
    expect(r.stdout + r.stderr).toContain('lvchain rollback db s1 --discard-newer');
    expect(await images()).toEqual(before);
    // One disk back to the guest's newest snapshot leaves the sets whole: allowed.
    const one = await lab.run(['rollback', DISKS[1] as string, 's2', '--auto-approve']);
    expect(one.exitCode, one.stdout + one.stderr).toBe(0);
  });

  it('states the size each disk returns to, and warns when it is below the declared size', async () => {
    lab = await DirLab.create('lvchain-guest-rollback-');
    await history();
    await config(['s1', 's2'], '12MiB');
    await lab.apply();
    const r = await lab.run(['rollback', 'db', 's2', '--plan-only', '--json']);
    expect(r.exitCode).toBe(2);
    const changes = r.stdout
      .split('\n')
      .filter((l) => l.includes('"planned_change"'))
      .map((l) => JSON.parse(l) as { change: { resource: { addr: string }; action: string } });
    expect(changes).toHaveLength(2);
    const text = await lab.run(['rollback', 'db', 's2', '--plan-only']);
    for (const d of DISKS)
      expect(text.stdout + text.stderr).toContain(
        `${d} returns to 8 MiB, the size it had at s2, below the 12 MiB the config declares; the next apply grows it again`,
      );
    expect(text.stdout).toMatch(/~ size\s+= 12 MiB \(12582912\) -> 8 MiB \(8388608\)/);
  });

  it('names what it does not know, with the closest guest or disk', async () => {
    lab = await DirLab.create('lvchain-guest-rollback-');
    await config([]);
    const r = await lab.run(['rollback', 'dbb', 's1', '--auto-approve']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('dbb is neither a guest nor a disk declared in');
    expect(r.stderr).toContain('did you mean "db"?');
  });
});
