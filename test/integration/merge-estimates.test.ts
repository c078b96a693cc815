/**
 * The bytes a plan says a commit copies, against what qemu-img then leaves in the merged layer
 * (issue 14): small scattered writes are copied in 64 KiB chunks by qemu-img commit's mirror
 * job, so the plan counts chunks, and its simulated after-state matches the real allocation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { diskConfig } from '../helpers/configs.js';
import type { Plan } from '../../src/model/plan.js';

const DISK = 'vm-945-disk-0';
const KiB = 1024;
let lab: DirLab;
afterEach(async () => lab?.dispose());

const config = (snapshots: string[]) =>
  lab.writeRawConfig(diskConfig({ disk: DISK, size: '64MiB', snapshots }));

/** Data bytes an image holds by itself, as qemu-img map reports them. */
async function dataBytes(image: string): Promise<number> {
  const r = await execa('qemu-img', ['map', '--output=json', '-f', 'qcow2', image]);
  const map = JSON.parse(r.stdout) as { data: boolean; depth: number; length: number }[];
  return map.filter((e) => e.data && e.depth === 0).reduce((sum, e) => sum + e.length, 0);
}

describe('what a commit copies', () => {
  it('scattered 4 KiB writes: the plan counts the 64 KiB chunks qemu-img copies, and the merged layer holds that much', async () => {
    lab = await DirLab.create('lvchain-merge-estimates-');
    await config(['s1']);
    expect((await lab.apply()).exitCode).toBe(0);
    // 150 writes of 4 KiB, each in a 64 KiB chunk of its own (the chunks are spread over the disk).
    const offsets = Array.from({ length: 150 }, (_, i) => i * 384 * KiB + ((i * 7) % 16) * 4 * KiB);
    await execa('qemu-io', [
      '-f',
      'qcow2',
      ...offsets.flatMap((o) => ['-c', `write -P 0x3c ${o} 4k`]),
      lab.top(DISK),
    ]);
    await config([]);
    const r = await lab.run(['plan', '--merge-direction', 'commit', '--out', 'due.json']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const plan = JSON.parse(await readFile(join(lab.root, 'due.json'), 'utf8')) as Plan;
    const op = plan.resource_changes[0]?.operation;
    expect(op?.op).toBe('delete');
    const planned = op?.op === 'delete' ? op.commit_bytes : null;
    // Not the 600 KiB written: each write costs its whole chunk.
    expect(planned).toBe(150 * 64 * KiB);
    const applied = await lab.run(['apply', 'due.json']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    // s1 was empty: what the merged layer (now the top) holds is what the commit wrote.
    expect(await dataBytes(lab.top(DISK))).toBe(planned);
  });
});
