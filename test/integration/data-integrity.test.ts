/**
 * Issue 2, acceptance 2: a disk goes through snapshots, deletions of the oldest, a middle and
 * the newest snapshot in both merge directions, a grow, and rollbacks. Before each step known
 * patterns are written with qemu-io; after each step every remaining snapshot and the top must
 * read exactly what they read before, compared by checksums of `qemu-img convert -O raw`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern, writeZeroes } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const KiB = 1024;
const DISK = 'vm-700-disk-0';

describe('data integrity on the directory backend', () => {
  let lab: DirLab;
  let size = 16 * MiB;
  const snaps: string[] = [];
  const expected = new Map<string, ExpectedDisk>();
  let top = new ExpectedDisk(size);

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
    lab = await DirLab.create();
  });
  afterAll(async () => lab?.dispose());

  const config = () => lab.writeConfig({ [DISK]: { size: `${size / MiB}MiB`, snapshots: [...snaps] } });

  async function write(offset: number, length: number, pattern: number): Promise<void> {
    await writePattern(lab.top(DISK), offset, length, pattern);
    top.write(offset, length, pattern);
  }

  async function zero(offset: number, length: number): Promise<void> {
    await writeZeroes(lab.top(DISK), offset, length);
    top.write(offset, length, 0);
  }

  async function snapshot(name: string): Promise<void> {
    snaps.push(name);
    await config();
    await lab.apply();
    expected.set(name, top.clone());
  }

  /** Every remaining snapshot and the top read what they read before. */
  async function verify(step: string): Promise<void> {
    for (const [name, exp] of expected) {
      expect(existsSync(lab.snap(DISK, name)), `${step}: snapshot ${name} exists`).toBe(true);
      expect(await viewDigest(lab.snap(DISK, name)), `${step}: view of ${name}`).toBe(exp.digest());
    }
    expect(await viewDigest(lab.top(DISK)), `${step}: view of the top`).toBe(top.digest());
    const again = await lab.run(['plan', '--detailed-exitcode']);
    expect(again.exitCode, `${step}: plan after apply\n${again.stdout}${again.stderr}`).toBe(0);
    expect(again.stdout).toContain('No changes.');
  }

  async function remove(name: string, direction: 'commit' | 'stream'): Promise<string> {
    snaps.splice(snaps.indexOf(name), 1);
    await config();
    const plan = await lab.run(['plan', '--merge-direction', direction]);
    expect(plan.stdout).toContain(`snapshot.${DISK}@${name} will be destroyed`);
    expect(plan.stdout).toContain(`merge: ${direction} (forced by --merge-direction)`);
    await lab.apply('--merge-direction', direction);
    expected.delete(name);
    expect(existsSync(lab.snap(DISK, name))).toBe(false);
    return plan.stdout;
  }

  it('creates the disk', async () => {
    await config();
    await lab.apply();
    await verify('create');
  });

  it('takes s1..s5 with overlapping writes and zero clusters between them', async () => {
    await write(0, 1 * MiB, 0x11);
    await write(5 * MiB, 1 * MiB, 0x11);
    await snapshot('s1');
    await write(512 * KiB, 1536 * KiB, 0x22);
    await write(8 * MiB, 1 * MiB, 0x22);
    await snapshot('s2');
    await write(1 * MiB, 64 * KiB, 0x33);
    await write(12 * MiB, 1 * MiB, 0x33);
    await zero(5 * MiB, 128 * KiB);
    await snapshot('s3');
    await write(3 * MiB, 1 * MiB, 0x44);
    await snapshot('s4');
    await write(9 * MiB, 1 * MiB, 0x55);
    await write(0, 64 * KiB, 0x55);
    await snapshot('s5');
    await write(14 * MiB, 1 * MiB, 0x66);
    await verify('snapshots');
  });

  it('deletes the oldest snapshot by commit', async () => {
    await remove('s1', 'commit');
    await verify('delete s1 (commit)');
  });

  it('deletes a middle snapshot by stream', async () => {
    await write(2 * MiB, 64 * KiB, 0x77);
    await remove('s3', 'stream');
    await verify('delete s3 (stream)');
  });

  it('deletes the newest snapshot by commit into it (the top takes its name)', async () => {
    await remove('s5', 'commit');
    await verify('delete s5 (commit, child is the top)');
  });

  it('deletes the now oldest snapshot by stream (no parent: the child becomes standalone)', async () => {
    await remove('s2', 'stream');
    await verify('delete s2 (stream, no parent)');
  });

  it('grows the disk, and a commit into a smaller snapshot grows the snapshot first', async () => {
    size = 24 * MiB;
    await config();
    const plan = await lab.run(['plan']);
    expect(plan.stdout).toContain(`disk.${DISK} will be updated in-place`);
    await lab.apply();
    top.grow(size);
    await write(20 * MiB, 1 * MiB, 0x88);
    await verify('grow');
    const out = await remove('s4', 'commit');
    expect(out).toMatch(/grow snap-s4-vm-700-disk-0\.qcow2 to 25165824 bytes/);
    await verify('delete s4 (commit into a smaller snapshot)');
  });

  it('rolls back to the newest snapshot', async () => {
    await snapshot('s7');
    await write(21 * MiB, 1 * MiB, 0x99);
    await snapshot('s8');
    await write(22 * MiB, 1 * MiB, 0xaa);
    await verify('before rollback');
    const r = await lab.run(['rollback', DISK, 's8', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    top = (expected.get('s8') as ExpectedDisk).clone();
    await verify('rollback to s8');
  });

  it('refuses to roll back past a newer snapshot without --discard-newer, then discards it', async () => {
    await write(23 * MiB, 64 * KiB, 0xbb);
    const refused = await lab.run(['rollback', DISK, 's7', '--auto-approve']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr + refused.stdout).toMatch(
      /s7 is not the newest snapshot of vm-700-disk-0; newer: s8/,
    );
    expect(await viewDigest(lab.top(DISK))).toBe(top.digest());
    const r = await lab.run(['rollback', DISK, 's7', '--discard-newer', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('irreversible');
    expect(existsSync(lab.snap(DISK, 's8'))).toBe(false);
    expected.delete('s8');
    snaps.splice(snaps.indexOf('s8'), 1);
    await config();
    top = (expected.get('s7') as ExpectedDisk).clone();
    await verify('rollback to s7 --discard-newer');
  });
});
