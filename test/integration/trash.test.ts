/**
 * A directory merge's last step takes the removed layer out of the chain by renaming it into
 * `<root>/.lvchain-trash/`, and frees its blocks with a detached rm (issue 14: unlinking a
 * large image took a second in the foreground). Checked here: the data of what stays, that the
 * blocks are freed after lvchain has exited, that the next apply frees what a killed run left,
 * and that nothing else in the trash, or behind a trash that is a link, is ever unlinked.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';

const DISK = 'vm-710-disk-0';
const MiB = 1024 * 1024;
let lab: DirLab;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await lab.dispose();
});

const trash = () => join(lab.storePath, '.lvchain-trash');

/** Snapshots a and b, each over 4 MiB of its own data; returns the views a merge must keep. */
async function chain(): Promise<{ expected: ExpectedDisk; a: string }> {
  lab = await DirLab.create('lvchain-trash-');
  const expected = new ExpectedDisk(16 * MiB);
  await lab.writeConfig({ [DISK]: { size: '16MiB' } });
  await lab.apply();
  await writePattern(lab.top(DISK), 0, 4 * MiB, 0x11);
  expected.write(0, 4 * MiB, 0x11);
  await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['a'] } });
  await lab.apply();
  const a = expected.digest();
  await writePattern(lab.top(DISK), 4 * MiB, 4 * MiB, 0x22);
  expected.write(4 * MiB, 4 * MiB, 0x22);
  await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['a', 'b'] } });
  await lab.apply();
  await writePattern(lab.top(DISK), 8 * MiB, 4 * MiB, 0x33);
  expected.write(8 * MiB, 4 * MiB, 0x33);
  return { expected, a };
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within 10 s`);
}

describe('removed layers pass through the trash', () => {
  it.each(['commit', 'stream'] as const)(
    'a merge by %s leaves the chain right and the trash empty once the background rm ran',
    async (direction) => {
      const { expected, a } = await chain();
      await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['a'] } });
      const r = await lab.apply('--merge-direction', direction);
      expect(r.stdout).toContain('Apply complete');
      expect(await lab.snapshotsOf(DISK)).toEqual(['a']);
      expect(await viewDigest(lab.snap(DISK, 'a'))).toBe(a);
      expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
      // The removed 4 MiB layer went through the trash (the directory exists) and is freed.
      expect((await stat(trash())).isDirectory()).toBe(true);
      await until('the trash to empty', async () => (await readdir(trash())).length === 0);
      const plan = await lab.run(['plan', '--detailed-exitcode']);
      expect(plan.exitCode).toBe(0);
    },
  );

  it('the next apply frees what a killed run left in the trash, and nothing else', async () => {
    await chain();
    await mkdir(trash(), { recursive: true });
    // What a run killed between its rename and its rm leaves, and files lvchain never names so.
    const left = join(trash(), `lvchain-1733400000000-4242-0-snap-b-${DISK}.qcow2`);
    await writeFile(left, Buffer.alloc(MiB, 1));
    const notOurs = join(trash(), 'notes.txt');
    await writeFile(notOurs, 'kept');
    await mkdir(join(trash(), `lvchain-1-2-3-dir`));
    await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['a', 'b', 'c'] } });
    await lab.apply();
    const names = await readdir(trash());
    expect(names).not.toContain(`lvchain-1733400000000-4242-0-snap-b-${DISK}.qcow2`);
    expect(names.sort()).toEqual(['lvchain-1-2-3-dir', 'notes.txt']);
  });

  it('a trash that is a link is not used: the layer is unlinked in place, the link target untouched', async () => {
    const { expected } = await chain();
    const elsewhere = join(lab.root, 'elsewhere');
    await mkdir(elsewhere);
    const bystander = join(elsewhere, `lvchain-1733400000000-4242-0-snap-a-${DISK}.qcow2`);
    await writeFile(bystander, 'not in the storage');
    await symlink(elsewhere, trash());
    await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['a'] } });
    await lab.apply();
    expect(await lab.snapshotsOf(DISK)).toEqual(['a']);
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
    expect(await readdir(elsewhere)).toEqual([`lvchain-1733400000000-4242-0-snap-a-${DISK}.qcow2`]);
    expect(await readdir(lab.diskDir(DISK))).not.toContain(`snap-b-${DISK}.qcow2`);
  });
});
