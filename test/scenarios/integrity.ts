/**
 * The data-integrity scenario, shared by every backend: snapshots,
 * deletions of the oldest, a middle and the newest snapshot in both merge directions, a grow
 * (and a commit into a smaller snapshot after it), and rollbacks. Before each step known
 * patterns are written with qemu-io; after each step every remaining snapshot and the top
 * must read exactly what they read before, by checksums of `qemu-img convert -O raw`.
 */
import { expect, it } from 'vitest';
import { ExpectedDisk } from '../helpers/data.js';
import type { CliResult } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const KiB = 1024;

export interface ChainDriver {
  disk: string;
  writeConfig(sizeMiB: number, snapshots: readonly string[]): Promise<void>;
  run(args: readonly string[]): Promise<CliResult>;
  /** Write through the top (as a guest would). */
  write(offset: number, length: number, pattern: number): Promise<void>;
  zero(offset: number, length: number): Promise<void>;
  /** sha256 of what a layer shows through its backing chain; `top` or a snapshot name. */
  viewDigest(layer: string): Promise<string>;
  layerExists(layer: string): Promise<boolean>;
  /** Extra checks after every step (e.g. no stale extents visible), with the layers left. */
  afterStep?(step: string, layers: readonly string[]): Promise<void>;
}

export function integrityScenario(driver: () => ChainDriver): void {
  let sizeMiB = 16;
  const snaps: string[] = [];
  const expected = new Map<string, ExpectedDisk>();
  let top = new ExpectedDisk(sizeMiB * MiB);
  const d = () => driver();

  const config = () => d().writeConfig(sizeMiB, snaps);
  const apply = async (...args: string[]) => {
    const r = await d().run(['apply', '--auto-approve', ...args]);
    if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const write = async (offset: number, length: number, pattern: number) => {
    await d().write(offset, length, pattern);
    top.write(offset, length, pattern);
  };
  const zero = async (offset: number, length: number) => {
    await d().zero(offset, length);
    top.write(offset, length, 0);
  };
  const snapshot = async (name: string) => {
    snaps.push(name);
    await config();
    await apply();
    expected.set(name, top.clone());
  };
  const verify = async (step: string) => {
    for (const [name, exp] of expected) {
      expect(await d().layerExists(name), `${step}: snapshot ${name} exists`).toBe(true);
      expect(await d().viewDigest(name), `${step}: view of ${name}`).toBe(exp.digest());
    }
    expect(await d().viewDigest('top'), `${step}: view of the top`).toBe(top.digest());
    await d().afterStep?.(step, [...expected.keys(), 'top']);
    const again = await d().run(['plan', '--detailed-exitcode']);
    expect(again.exitCode, `${step}: plan after apply\n${again.stdout}${again.stderr}`).toBe(0);
    expect(again.stdout).toContain('No changes.');
  };
  const remove = async (name: string, direction: 'commit' | 'stream') => {
    snaps.splice(snaps.indexOf(name), 1);
    await config();
    const plan = await d().run(['plan', '--merge-direction', direction]);
    expect(plan.stdout).toContain(`snapshot.${d().disk}@${name} will be merged away`);
    expect(plan.stdout).toContain(`merge: ${direction} (forced by --merge-direction)`);
    await apply('--merge-direction', direction);
    expected.delete(name);
    expect(await d().layerExists(name)).toBe(false);
    return plan.stdout;
  };

  it('creates the disk', async () => {
    await config();
    await apply();
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
    sizeMiB = 24;
    await config();
    const plan = await d().run(['plan']);
    expect(plan.stdout).toContain(`disk.${d().disk} will be updated in-place`);
    await apply();
    top.grow(sizeMiB * MiB);
    await write(20 * MiB, 1 * MiB, 0x88);
    await verify('grow');
    const out = await remove('s4', 'commit');
    expect(out).toMatch(/grow \S*s4\S* to 25165824 bytes/);
    await verify('delete s4 (commit into a smaller snapshot)');
  });

  it('rolls back to the newest snapshot', async () => {
    await snapshot('s7');
    await write(21 * MiB, 1 * MiB, 0x99);
    await snapshot('s8');
    await write(22 * MiB, 1 * MiB, 0xaa);
    await verify('before rollback');
    const r = await d().run(['rollback', d().disk, 's8', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    top = (expected.get('s8') as ExpectedDisk).clone();
    await verify('rollback to s8');
  });

  it('refuses to roll back past a newer snapshot without --discard-newer, then discards it', async () => {
    await write(23 * MiB, 64 * KiB, 0xbb);
    const refused = await d().run(['rollback', d().disk, 's7', '--auto-approve']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr + refused.stdout).toMatch(
      new RegExp(`s7 is not the newest snapshot of ${d().disk}; newer: s8`),
    );
    expect(await d().viewDigest('top')).toBe(top.digest());
    const r = await d().run(['rollback', d().disk, 's7', '--discard-newer', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('irreversible');
    expect(await d().layerExists('s8')).toBe(false);
    expected.delete('s8');
    snaps.splice(snaps.indexOf('s8'), 1);
    await config();
    top = (expected.get('s7') as ExpectedDisk).clone();
    await verify('rollback to s7 --discard-newer');
  });
}
