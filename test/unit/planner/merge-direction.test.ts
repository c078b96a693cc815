/**
 * A snapshot is deleted by whichever merge copies fewer bytes (commit the child into it, or
 * stream it into the child), and --merge-direction forces either. Fixture `chains`: s0 ← s1 ← top
 * on 101 with 8 MiB written under s1 and 1 MiB since, and the reverse on 102; s1 is undeclared.
 */
import { describe, expect, it } from 'vitest';
import { change, planFixture, stepLines } from './plan-fixture.js';
import { MiB } from '../../fixtures/observed/constants.js';
import type { Observed } from '../../../src/model/observed.js';

const COMMIT_101 = [
  'set_meta snap:s1 record_intent delete/s1/commit',
  `commit top into snap:s1 ${1 * MiB}`,
  'rename top → trash:top',
  'rename snap:s1 → top',
  'set_meta top finish',
  'remove trash:top',
];

/** The captured chains, with disk 101 held by a running VM's QEMU (the live engine's verdict). */
const running =
  (pauses: boolean) =>
  (observed: Observed): void => {
    for (const storage of Object.values(observed.storages)) {
      const disk = storage.disks['vm-101-disk-0'];
      if (disk)
        disk.engine = {
          kind: 'engine',
          engine: 'qmp',
          socket: '/run/101.qmp',
          topHeld: true,
          qemu: '10.0',
          pauses,
        };
    }
  };

describe('merge direction', () => {
  it('commits when the child holds less than the snapshot', () => {
    const plan = planFixture('chains');
    expect(change(plan, 'snapshot.vm-101-disk-0@s1').operation).toEqual({
      op: 'delete',
      snap: 's1',
      merge: 'merge_commit',
      commit_bytes: 1 * MiB,
      stream_bytes: 8 * MiB,
      chosen_because: 'cheaper',
    });
    expect(stepLines(plan, 'snapshot.vm-101-disk-0@s1')).toEqual(COMMIT_101);
  });

  it('streams when the snapshot holds less than the child', () => {
    const plan = planFixture('chains');
    expect(change(plan, 'snapshot.vm-102-disk-0@s1').operation).toEqual({
      op: 'delete',
      snap: 's1',
      merge: 'merge_stream',
      commit_bytes: 8 * MiB,
      stream_bytes: 1 * MiB,
      chosen_because: 'cheaper',
    });
    expect(stepLines(plan, 'snapshot.vm-102-disk-0@s1')).toEqual([
      'set_meta top record_intent delete/s1/stream',
      `stream snap:s1 into top onto snap:s0 ${1 * MiB}`,
      'remove snap:s1',
      'set_meta top finish',
    ]);
  });

  it('streams the cheaper commit when stream is forced, and keeps both figures', () => {
    const plan = planFixture('chains', { mergeDirection: 'stream' });
    expect(change(plan, 'snapshot.vm-101-disk-0@s1').operation).toMatchObject({
      merge: 'merge_stream',
      commit_bytes: 1 * MiB,
      stream_bytes: 8 * MiB,
      chosen_because: 'forced',
    });
    expect(stepLines(plan, 'snapshot.vm-101-disk-0@s1')).toEqual([
      'set_meta top record_intent delete/s1/stream',
      `stream snap:s1 into top onto snap:s0 ${8 * MiB}`,
      'remove snap:s1',
      'set_meta top finish',
    ]);
  });

  it('commits the cheaper stream when commit is forced', () => {
    const plan = planFixture('chains', { mergeDirection: 'commit' });
    expect(change(plan, 'snapshot.vm-102-disk-0@s1').operation).toMatchObject({
      merge: 'merge_commit',
      chosen_because: 'forced',
    });
    expect(stepLines(plan, 'snapshot.vm-102-disk-0@s1')).toEqual([
      'set_meta snap:s1 record_intent delete/s1/commit',
      `commit top into snap:s1 ${8 * MiB}`,
      'rename top → trash:top',
      'rename snap:s1 → top',
      'set_meta top finish',
      'remove trash:top',
    ]);
    // Forcing the direction a disk would take anyway changes nothing but the reason.
    expect(stepLines(plan, 'snapshot.vm-101-disk-0@s1')).toEqual(COMMIT_101);
  });

  it('warns, with both figures, where the forced direction copies more, and only there', () => {
    const warnings = (plan: ReturnType<typeof planFixture>) =>
      plan.diagnostics.filter((d) => d.code === 'merge_direction_costlier');
    const commit = warnings(planFixture('chains', { mergeDirection: 'commit' }));
    expect(commit).toEqual([
      {
        severity: 'warning',
        code: 'merge_direction_costlier',
        summary:
          '--merge-direction commit copies 8 MiB to merge snapshot.vm-102-disk-0@s1 away, where stream would copy 1 MiB',
        detail: 'Without --merge-direction, lvchain merges by whichever direction copies fewer bytes.',
        address: 'snapshot.vm-102-disk-0@s1',
        figures: { forced_bytes: 8 * MiB, other_bytes: 1 * MiB },
      },
    ]);
    const stream = warnings(planFixture('chains', { mergeDirection: 'stream' }));
    expect(stream.map((d) => d.address)).toEqual(['snapshot.vm-101-disk-0@s1']);
    expect(warnings(planFixture('chains'))).toEqual([]);
  });

  it('streams on a tie: no layer is renamed', () => {
    // Fixture `retention`: the hourly snapshots hold no data, so both merges copy 0 bytes.
    const plan = planFixture('retention', { allowMassDelete: true });
    const c = change(plan, 'snapshot.vm-110-disk-0@auto-20261120T0800Z');
    expect(c.operation).toMatchObject({
      merge: 'merge_stream',
      commit_bytes: 0,
      stream_bytes: 0,
      chosen_because: 'tie',
    });
  });

  it('counts the bytes to copy of the chosen merges in the summary', () => {
    expect(planFixture('chains').summary.bytes_to_copy).toBe(2 * MiB);
    expect(planFixture('chains', { mergeDirection: 'stream' }).summary.bytes_to_copy).toBe(9 * MiB);
    expect(planFixture('chains', { mergeDirection: 'commit' }).summary.bytes_to_copy).toBe(9 * MiB);
  });

  it('a running VM whose QEMU can pause gets the offline choice: the top is committed, and the guest pivots', () => {
    const plan = planFixture('chains', {}, undefined, running(true));
    expect(change(plan, 'snapshot.vm-101-disk-0@s1').operation).toMatchObject({
      merge: 'merge_commit',
      chosen_because: 'cheaper',
    });
    const commit = change(plan, 'snapshot.vm-101-disk-0@s1').x_steps.find((s) => s.step.kind === 'commit');
    expect(commit?.step).toMatchObject({ pivot: { disk: 'vm-101-disk-0', snap: 's1', pivoted: true } });
  });

  it('a running VM whose QEMU cannot pause (a storage daemon) streams, though the commit is cheaper, and says why', () => {
    const plan = planFixture('chains', {}, undefined, running(false));
    expect(change(plan, 'snapshot.vm-101-disk-0@s1').operation).toEqual({
      op: 'delete',
      snap: 's1',
      merge: 'merge_stream',
      commit_bytes: 1 * MiB,
      stream_bytes: 8 * MiB,
      chosen_because: 'live_engine',
    });
  });
});
