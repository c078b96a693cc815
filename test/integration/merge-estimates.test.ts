/**
 * The bytes a plan says a merge copies, against what the merge then wrote (issue 14): small
 * scattered writes are copied in 64 KiB chunks by qemu-img commit's mirror job and in 128 KiB
 * windows by the directory stream, so the plan counts those, and its simulated after-state
 * matches the real allocation.
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

/** One sector per byte, 1 where `qemu-img map` says the image holds data by itself. */
async function dataSectors(image: string, size: number): Promise<Uint8Array> {
  const r = await execa('qemu-img', ['map', '--output=json', '-f', 'qcow2', image]);
  const map = JSON.parse(r.stdout) as { start: number; data: boolean; depth: number; length: number }[];
  const sectors = new Uint8Array(size / 512);
  for (const e of map.filter((x) => x.data && x.depth === 0))
    sectors.fill(1, e.start / 512, (e.start + e.length) / 512);
  return sectors;
}

/** Bytes that hold data after and did not before: what the merge wrote where nothing was. */
function newlyWritten(before: Uint8Array, after: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < after.length; i++) if (after[i] === 1 && before[i] !== 1) n++;
  return n * 512;
}

const MB = 1024 * KiB;
const SIZE = 64 * MB;
/**
 * qemu-io commands for the snapshot s1 (written before it was taken) and for the top (after).
 * The two layers' data lie apart, so what a merge writes where nothing was is all it writes; a
 * zeroed range is the exception that proves it: the top's zero clusters over s1's data are
 * metadata, copied by neither direction.
 */
const LAYOUTS: Record<string, { s1: string[]; top: string[] }> = {
  'hot rewrites': {
    s1: [`write -P 0x11 0 ${8 * MB}`],
    top: Array.from({ length: 20 }, (_, i) => `write -P ${0x20 + i} ${40 * MB} ${2 * MB}`),
  },
  appends: {
    s1: [`write -P 0x12 0 ${4 * MB}`],
    top: Array.from({ length: 32 }, (_, i) => `write -P 0x31 ${32 * MB + i * 256 * KiB} ${256 * KiB}`),
  },
  '4 KiB writes': {
    s1: Array.from({ length: 200 }, (_, i) => `write -P 0x13 ${i * 160 * KiB + ((i * 5) % 16) * 4 * KiB} 4k`),
    top: Array.from(
      { length: 200 },
      (_, i) => `write -P 0x32 ${32 * MB + i * 160 * KiB + ((i * 3) % 16) * 4 * KiB} 4k`,
    ),
  },
  '1 MiB writes': {
    s1: Array.from({ length: 8 }, (_, i) => `write -P 0x14 ${i * 4 * MB} ${MB}`),
    top: Array.from(
      { length: 12 },
      (_, i) => `write -P 0x33 ${32 * MB + i * 2 * MB + (i % 3) * 64 * KiB} ${MB}`,
    ),
  },
  'zeroed ranges': {
    s1: [`write -P 0x15 0 ${16 * MB}`],
    top: [`write -z ${4 * MB} ${4 * MB}`, `write -z ${12 * MB} ${MB}`, `write -P 0x34 ${40 * MB} ${3 * MB}`],
  },
};

describe('each plan estimate against what the merge wrote (issue 14)', () => {
  for (const [layout, writes] of Object.entries(LAYOUTS))
    for (const direction of ['commit', 'stream'] as const)
      it(`${layout}, ${direction}: the plan's figure is within 15 % of the bytes written`, async () => {
        lab = await DirLab.create('lvchain-merge-estimates-');
        await lab.writeRawConfig(diskConfig({ disk: DISK, size: '64MiB', snapshots: [] }));
        expect((await lab.apply()).exitCode).toBe(0);
        const io = (image: string, commands: string[]) =>
          execa('qemu-io', ['-f', 'qcow2', ...commands.flatMap((c) => ['-c', c]), image]);
        await io(lab.top(DISK), writes.s1);
        await config(['s1']);
        expect((await lab.apply()).exitCode).toBe(0);
        await io(lab.top(DISK), writes.top);
        await config([]);
        const r = await lab.run(['plan', '--merge-direction', direction, '--out', 'due.json']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
        const plan = JSON.parse(await readFile(join(lab.root, 'due.json'), 'utf8')) as Plan;
        const op = plan.resource_changes[0]?.operation;
        if (op?.op !== 'delete') throw new Error(`expected a delete, got ${JSON.stringify(op)}`);
        const estimate = direction === 'commit' ? op.commit_bytes : op.stream_bytes;
        if (estimate === null) throw new Error('the plan has no estimate');
        // Commit writes into s1's image (which then takes the top's name); stream, into the top.
        const target = direction === 'commit' ? lab.snap(DISK, 's1') : lab.top(DISK);
        const before = await dataSectors(target, SIZE);
        const applied = await lab.run(['apply', 'due.json']);
        expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
        const written = newlyWritten(before, await dataSectors(lab.top(DISK), SIZE));
        console.log(`${layout}, ${direction}: planned ${estimate} bytes, written ${written}`);
        expect(written).toBeGreaterThan(0);
        expect(
          Math.abs(estimate - written) / written,
          `planned ${estimate}, written ${written}`,
        ).toBeLessThanOrEqual(0.15);
      });
});
