/**
 * What plan promises and apply keeps, on real qemu-img images: the merge direction is chosen by
 * bytes, a second plan after apply has no changes, a saved plan is refused once stale, used or
 * made for another config, and a hand-broken chain is left alone while other disks change.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import type { Plan } from '../../src/model/plan.js';

const MiB = 1024 * 1024;
const labs: DirLab[] = [];
const newLab = async () => {
  const lab = await DirLab.create();
  labs.push(lab);
  return lab;
};

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.dispose()));
});

async function readPlan(lab: DirLab, file: string): Promise<Plan> {
  return JSON.parse(await readFile(join(lab.root, file), 'utf8')) as Plan;
}

/**
 * s0 ← s1 ← top; s1 is deleted. `sData` MiB are written before s1, `cData` MiB after. With
 * `next`, the same plan first takes that snapshot, so s1's child is the renamed top.
 */
async function mergeFixture(sData: number, cData: number, next?: string) {
  const lab = await newLab();
  const disk = 'vm-710-disk-0';
  await lab.writeConfig({ [disk]: { size: '32MiB', snapshots: ['s0'] } });
  await lab.apply();
  await lab.writeConfig({ [disk]: { size: '32MiB', snapshots: ['s0', 's1'] } });
  await writePattern(lab.top(disk), 0, sData * MiB, 0x21);
  await lab.apply();
  // The child's writes go to a disjoint range, so neither direction is shadowed.
  await writePattern(lab.top(disk), 16 * MiB, cData * MiB, 0x42);
  await lab.writeConfig({ [disk]: { size: '32MiB', snapshots: next ? ['s0', next] : ['s0'] } });
  const text = await lab.run(['plan', '--out', 'p.json']);
  const plan = await readPlan(lab, 'p.json');
  const del = plan.resource_changes.find((c) => c.address === `snapshot.${disk}@s1`);
  if (!del || del.operation.op !== 'delete') throw new Error(`no delete planned:\n${text.stdout}`);
  return { lab, text: text.stdout, op: del.operation };
}

describe('merge direction is chosen by bytes', () => {
  it('commits when the child holds less than the snapshot', async () => {
    const { text, op } = await mergeFixture(8, 1);
    expect(op.merge).toBe('merge_commit');
    expect(op.chosen_because).toBe('cheaper');
    expect(op.commit_bytes).toBe(1 * MiB);
    expect(op.stream_bytes).toBe(8 * MiB);
    expect(text).toContain(
      'merge: commit (cheaper); commit would copy 1 MiB (1048576 bytes), stream would copy 8 MiB (8388608 bytes)',
    );
  });

  it('streams when the snapshot holds less than the child', async () => {
    const { text, op, lab } = await mergeFixture(1, 8);
    expect(op.merge).toBe('merge_stream');
    expect(op.commit_bytes).toBe(8 * MiB);
    expect(op.stream_bytes).toBe(1 * MiB);
    expect(text).toContain(
      'merge: stream (cheaper); commit would copy 8 MiB (8388608 bytes), stream would copy 1 MiB (1048576 bytes)',
    );
    // The plan's figure is what the merge then actually moves.
    await lab.apply();
  });

  it('measures the child under its observed name when the same plan renamed it by a new snapshot', async () => {
    const { text, op, lab } = await mergeFixture(8, 1, 's2');
    expect(text).toContain('snapshot.vm-710-disk-0@s2 will be created');
    expect(op.merge).toBe('merge_commit');
    expect(op.commit_bytes).toBe(1 * MiB);
    expect(op.stream_bytes).toBe(8 * MiB);
    await lab.apply();
    expect((await lab.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
  });
});

describe('idempotence', () => {
  it('a plan with changes exits 2; after apply, plan says No changes and exits 0', async () => {
    const lab = await newLab();
    await lab.writeConfig({
      'vm-720-disk-0': { size: '8MiB', snapshots: ['a'] },
      'vm-720-disk-1': { size: '8MiB' },
    });
    const before = await lab.run(['plan', '--detailed-exitcode']);
    expect(before.exitCode).toBe(2);
    expect(before.stdout).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
    await lab.apply();
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toContain('No changes. Your storage matches the configuration.');
    const json = await lab.run(['plan', '--json', '--detailed-exitcode']);
    expect(json.exitCode).toBe(0);
    const summary = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; changes?: { add: number } })
      .find((e) => e.type === 'change_summary');
    expect(summary?.changes?.add).toBe(0);
  });
});

describe('saved plans', () => {
  const disk = 'vm-730-disk-0';

  it('a stale plan is refused with what changed, and nothing is touched', async () => {
    const lab = await newLab();
    await lab.writeConfig({ [disk]: { size: '8MiB' } });
    await lab.apply();
    await lab.writeConfig({ [disk]: { size: '8MiB', snapshots: ['s1'] } });
    expect((await lab.run(['plan', '--out', 'plan.json'])).exitCode).toBe(0);
    // Someone grows the image behind lvchain's back.
    await execa('qemu-img', ['resize', '-q', '-f', 'qcow2', lab.top(disk), '9M']);
    const tree = await lab.snapshotTree();
    const r = await lab.run(['apply', 'plan.json']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Saved plan is stale');
    // The file and the field that changed, in words: no raw fingerprint tuples.
    expect(r.stderr).toContain('lab: file vm-730-disk-0.qcow2: size 8 MiB → 9 MiB');
    expect(r.stderr).not.toMatch(/[{}]/);
    expect(await lab.snapshotTree()).toEqual(tree);
  });

  it('a plan applies once; the second attempt is refused', async () => {
    const lab = await newLab();
    await lab.writeConfig({ [disk]: { size: '8MiB', snapshots: ['s1'] } });
    expect((await lab.run(['plan', '--out', 'plan.json'])).exitCode).toBe(0);
    const started = Math.floor(Date.now() / 1000) * 1000;
    const first = await lab.run(['apply', 'plan.json']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('Apply complete! Resources: 2 added, 0 changed, 0 destroyed.');
    const ended = Date.now();
    const tree = await lab.snapshotTree();
    const second = await lab.run(['apply', 'plan.json']);
    expect(second.exitCode).toBe(1);
    // One plain sentence with the time of the first apply, not the storage's changes.
    const at = /Error: This plan was already applied at (\S+); a saved plan applies once\n/.exec(
      second.stderr,
    );
    expect(at, second.stderr).not.toBeNull();
    const when = Date.parse(at?.[1] ?? '');
    expect(when).toBeGreaterThanOrEqual(started);
    expect(when).toBeLessThanOrEqual(ended);
    expect(second.stderr).not.toContain('Saved plan is stale');
    expect(second.stderr.trim().split('\n').length, second.stderr).toBeLessThanOrEqual(7);
    expect(await lab.snapshotTree()).toEqual(tree);
  });

  it('a plan is refused when the config changed since it was made', async () => {
    const lab = await newLab();
    await lab.writeConfig({ [disk]: { size: '8MiB' } });
    expect((await lab.run(['plan', '--out', 'plan.json'])).exitCode).toBe(0);
    await lab.writeConfig({ [disk]: { size: '16MiB' } });
    const r = await lab.run(['apply', 'plan.json']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Saved plan is stale: the config');
  });
});

describe('drift', () => {
  it('a hand-broken chain is reported and left alone; other disks are still planned', async () => {
    const lab = await newLab();
    const broken = 'vm-740-disk-0';
    const fresh = 'vm-741-disk-0';
    await lab.writeConfig({ [broken]: { size: '8MiB', snapshots: ['s1'] } });
    await lab.apply();
    await rename(lab.snap(broken, 's1'), join(lab.diskDir(broken), 'renamed-by-hand.qcow2'));
    await lab.writeConfig({ [broken]: { size: '8MiB', snapshots: ['s1', 's2'] }, [fresh]: { size: '8MiB' } });
    const plan = await lab.run(['plan', '--detailed-exitcode']);
    expect(plan.exitCode).toBe(2);
    expect(plan.stdout).toContain('Note: Objects have changed outside of lvchain');
    expect(plan.stdout).toContain(`disk.${broken} on lab is left alone:`);
    expect(plan.stdout).toMatch(/broken_backing: top is backed by snapshot s1, which does not exist/);
    expect(plan.stdout).toContain(`disk.${fresh} will be created`);
    expect(plan.stdout).not.toContain(`snapshot.${broken}@s2`);
    const tree = (await lab.snapshotTree()).filter((l) => l.includes('/740/'));
    await lab.apply();
    expect((await lab.snapshotTree()).filter((l) => l.includes('/740/'))).toEqual(tree);
  });
});
