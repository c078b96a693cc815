/**
 * An operation stopped by a crash is resumed from its intent, before anything else happens to
 * the disk, with only the steps it still needs. Each fixture `interrupted-<op>` was left by an
 * apply killed after the steps named below.
 */
import { describe, expect, it } from 'vitest';
import { change, changeLines, planFixture, stepLines } from './plan-fixture.js';
import { MiB } from '../../fixtures/observed/constants.js';

describe('resume of an interrupted operation', () => {
  it('create, stopped after allocate: formats the image and finishes', () => {
    const plan = planFixture('interrupted-create');
    expect(change(plan, 'disk.vm-160-disk-0').operation).toEqual({
      op: 'resume',
      intent: { op: 'create', size: 16 * MiB },
    });
    expect(stepLines(plan, 'disk.vm-160-disk-0')).toEqual([
      `format top ${16 * MiB} backing -`,
      'set_meta top finish',
    ]);
  });

  it('grow, stopped after recording the intent: resizes and finishes', () => {
    const plan = planFixture('interrupted-grow');
    expect(changeLines(plan)).toEqual(['disk.vm-161-disk-0: resume']);
    expect(stepLines(plan, 'disk.vm-161-disk-0')).toEqual([
      `resize top ${32 * MiB} metadata`,
      'set_meta top finish',
    ]);
  });

  it('snapshot, stopped after the rename: formats the new top over the snapshot', () => {
    const plan = planFixture('interrupted-snapshot');
    expect(change(plan, 'snapshot.vm-162-disk-0@s1').operation).toEqual({
      op: 'resume',
      intent: { op: 'snapshot', snap: 's1', created: '2026-11-20T11:30:00Z', kind: 'pinned' },
    });
    expect(stepLines(plan, 'snapshot.vm-162-disk-0@s1')).toEqual([
      `allocate top ${16 * MiB} incomplete`,
      `format top ${16 * MiB} backing snap:s1`,
      'set_meta top finish',
      'set_meta snap:s1 finish',
    ]);
  });

  it('delete by commit, stopped after the commit: commits again (idempotent), then swaps and cleans up', () => {
    const plan = planFixture('interrupted-delete-commit');
    expect(changeLines(plan)).toEqual(['snapshot.vm-163-disk-0@s1: resume']);
    expect(stepLines(plan, 'snapshot.vm-163-disk-0@s1')).toEqual([
      `commit top into snap:s1 ${1 * MiB}`,
      'rename top → trash:top',
      'rename snap:s1 → top',
      'set_meta top finish',
      'remove trash:top',
    ]);
  });

  it('delete by commit of the top, stopped after a live pivot was recorded: never commits the stale top again, only swaps', () => {
    const plan = planFixture('interrupted-delete-commit', {}, undefined, (observed) => {
      const layers = Object.values(observed.storages).flatMap((s) => s.disks['vm-163-disk-0']?.layers ?? []);
      const s1 = layers.find((l) => l.ref.role === 'snapshot' && l.ref.snap === 's1');
      if (!s1?.meta) throw new Error('the fixture has no owned snapshot s1');
      s1.meta.pivoted = true;
    });
    expect(changeLines(plan)).toEqual(['snapshot.vm-163-disk-0@s1: resume']);
    expect(stepLines(plan, 'snapshot.vm-163-disk-0@s1')).toEqual([
      'rename top → trash:top',
      'rename snap:s1 → top',
      'set_meta top finish',
      'remove trash:top',
    ]);
  });

  it('delete by commit, stopped after s1 took the top name: finishes; under a running VM, first makes sure QEMU names the renamed image', () => {
    const offline = planFixture('interrupted-delete-swap');
    expect(changeLines(offline)).toEqual(['snapshot.vm-168-disk-0@s1: resume']);
    expect(stepLines(offline, 'snapshot.vm-168-disk-0@s1')).toEqual([
      'set_meta top finish',
      'remove trash:top',
    ]);
    // The verdict the engine selector gives when the declared VM's QEMU holds the disk.
    const live = planFixture('interrupted-delete-swap', {}, undefined, (observed) => {
      const d = Object.values(observed.storages).find((s) => s.disks['vm-168-disk-0'])?.disks[
        'vm-168-disk-0'
      ];
      if (!d) throw new Error('the fixture has no disk vm-168-disk-0');
      d.engine = {
        kind: 'engine',
        engine: 'qmp',
        socket: '/run/qemu-server/168.qmp',
        topHeld: true,
        qemu: '7.2',
        pauses: true,
      };
    });
    expect(stepLines(live, 'snapshot.vm-168-disk-0@s1')).toEqual([
      'reattach snap:s1 → top',
      'set_meta top finish',
      'remove trash:top',
    ]);
  });

  it('delete by stream, stopped after the stream: removes the snapshot and finishes', () => {
    const plan = planFixture('interrupted-delete-stream');
    expect(change(plan, 'snapshot.vm-164-disk-0@s1').operation).toEqual({
      op: 'resume',
      intent: { op: 'delete', snap: 's1', direction: 'stream' },
    });
    expect(stepLines(plan, 'snapshot.vm-164-disk-0@s1')).toEqual(['remove snap:s1', 'set_meta top finish']);
  });

  it('the direction of an interrupted delete is the recorded one, whatever --merge-direction says', () => {
    const plan = planFixture('interrupted-delete-stream', { mergeDirection: 'commit' });
    expect(stepLines(plan, 'snapshot.vm-164-disk-0@s1')).toEqual(['remove snap:s1', 'set_meta top finish']);
  });

  it('rollback, stopped after removing the top: removes the rest and formats a new top', () => {
    const plan = planFixture('interrupted-rollback');
    // The config still declares s1, so once the rollback is finished the plan takes it again.
    expect(changeLines(plan)).toEqual(['disk.vm-165-disk-0: resume', 'snapshot.vm-165-disk-0@s1: snapshot']);
    expect(change(plan, 'disk.vm-165-disk-0').irreversible).toBe(true);
    expect(stepLines(plan, 'disk.vm-165-disk-0')).toEqual([
      'remove snap:s1',
      `allocate top ${16 * MiB} incomplete rollback/s0`,
      `format top ${16 * MiB} backing snap:s0`,
      'set_meta top finish',
      'set_meta snap:s0 finish',
    ]);
  });

  it('a commit merge stopped after its finish record: only removes the old top left aside', () => {
    const plan = planFixture('leftover-trash');
    expect(change(plan, 'disk.vm-167-disk-0').operation).toEqual({ op: 'cleanup' });
    expect(change(plan, 'disk.vm-167-disk-0').action_reason).toBe('resume_interrupted');
    expect(stepLines(plan, 'disk.vm-167-disk-0')).toEqual(['remove trash:top']);
  });

  it('destroy, stopped after removing the top: removes the remaining layers, even without --allow-destroy', () => {
    const plan = planFixture('interrupted-destroy');
    expect(change(plan, 'disk.vm-166-disk-0').operation).toEqual({ op: 'resume', intent: { op: 'destroy' } });
    expect(stepLines(plan, 'disk.vm-166-disk-0')).toEqual(['remove snap:s0']);
  });
});
