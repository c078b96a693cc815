/**
 * Each operation's step list, planned against captured storages: create and the first pinned
 * snapshot on an empty directory (`fresh`); grow, snapshot, destroy and rollback on existing
 * chains (`chains`), in plan order and at the instant the plan is made.
 */
import { describe, expect, it } from 'vitest';
import { change, changeLines, fixture, planFixture, stepLines } from './plan-fixture.js';
import { MiB } from '../../fixtures/observed/constants.js';

const NOW = '2026-11-20T12:30:00Z';

describe('operations on a fresh storage', () => {
  const plan = planFixture('fresh');

  it('creates the disk, then takes its pinned snapshot', () => {
    expect(changeLines(plan)).toEqual([
      'disk.vm-100-disk-0: create',
      'snapshot.vm-100-disk-0@base: snapshot',
    ]);
    expect(change(plan, 'disk.vm-100-disk-0').operation).toEqual({ op: 'create', size: 32 * MiB });
    expect(stepLines(plan, 'disk.vm-100-disk-0')).toEqual([
      `allocate top ${32 * MiB} incomplete create/${32 * MiB}`,
      `format top ${32 * MiB} backing -`,
      'set_meta top finish',
    ]);
  });

  it('snapshots by renaming the top and formatting a new one over it', () => {
    expect(change(plan, 'snapshot.vm-100-disk-0@base').operation).toEqual({
      op: 'snapshot',
      snap: 'base',
      kind: 'pinned',
      created: NOW,
    });
    expect(stepLines(plan, 'snapshot.vm-100-disk-0@base')).toEqual([
      `set_meta top record_intent snapshot/base/${NOW}/pinned`,
      'rename top → snap:base',
      `allocate top ${32 * MiB} incomplete`,
      `format top ${32 * MiB} backing snap:base`,
      'set_meta top finish',
      'set_meta snap:base finish',
    ]);
    expect(plan.applyable).toBe(true);
    expect(plan.summary).toEqual({
      add: 2,
      change: 0,
      destroy: 0,
      merge: 0,
      bytes_to_copy: 0,
      bytes_to_zero: 0,
    });
  });
});

describe('operations on existing chains', () => {
  it('grows a disk before snapshotting it at the new size', () => {
    const plan = planFixture('chains');
    expect(change(plan, 'disk.vm-103-disk-0').operation).toEqual({
      op: 'grow',
      from: 16 * MiB,
      to: 32 * MiB,
    });
    expect(stepLines(plan, 'disk.vm-103-disk-0')).toEqual([
      `set_meta top record_intent grow/${32 * MiB}`,
      `resize top ${32 * MiB} metadata`,
      'set_meta top finish',
    ]);
    expect(stepLines(plan, 'snapshot.vm-103-disk-0@added')).toEqual([
      `set_meta top record_intent snapshot/added/${NOW}/pinned`,
      'rename top → snap:added',
      `allocate top ${32 * MiB} incomplete`,
      `format top ${32 * MiB} backing snap:added`,
      'set_meta top finish',
      'set_meta snap:added finish',
    ]);
  });

  it('records a change of protect in the top’s metadata only', () => {
    const config = fixture('chains').config.replace(
      'vm-103-disk-0:\n    storage: lab\n    size: 32MiB',
      'vm-103-disk-0:\n    storage: lab\n    size: 32MiB\n    protect: true',
    );
    const plan = planFixture('chains', {}, config);
    // Recorded first, under the same address as the grow that follows it.
    expect(changeLines(plan).filter((l) => l.includes('vm-103'))).toEqual([
      'disk.vm-103-disk-0: set_protect',
      'disk.vm-103-disk-0: grow',
      'snapshot.vm-103-disk-0@added: snapshot',
    ]);
    expect(change(plan, 'disk.vm-103-disk-0').operation).toEqual({ op: 'set_protect', protect: true });
    expect(stepLines(plan, 'disk.vm-103-disk-0')).toEqual(['set_meta top update']);
  });

  it('keeps an undeclared disk unless --allow-destroy is given', () => {
    const kept = planFixture('chains');
    expect(changeLines(kept)).toEqual([
      'snapshot.vm-101-disk-0@s1: delete',
      'snapshot.vm-102-disk-0@s1: delete',
      'disk.vm-103-disk-0: grow',
      'snapshot.vm-103-disk-0@added: snapshot',
    ]);
    expect(kept.diagnostics.map((d) => d.summary)).toContain(
      'disk.vm-104-disk-0 exists on lab but is no longer declared; it is kept (destroying it needs --allow-destroy)',
    );
  });

  it('destroys an undeclared disk with --allow-destroy, but never a protected one', () => {
    const plan = planFixture('chains', { allowDestroy: true });
    expect(change(plan, 'disk.vm-104-disk-0').operation).toEqual({ op: 'destroy' });
    expect(stepLines(plan, 'disk.vm-104-disk-0')).toEqual([
      'set_meta top record_intent destroy',
      'remove top',
    ]);
    expect(plan.resource_changes.some((c) => c.disk === 'vm-105-disk-0')).toBe(false);
    expect(plan.diagnostics).toContainEqual({
      severity: 'error',
      summary: 'disk.vm-105-disk-0 cannot be destroyed: it is protected (protect: true)',
      detail: 'Declare it again with protect: false, apply, then remove it to destroy it.',
      address: 'disk.vm-105-disk-0',
    });
    expect(plan.applyable).toBe(false);
  });

  it('rolls back by marking both ends, removing the newer layers and formatting a new top', () => {
    const plan = planFixture('chains', {
      mode: 'rollback',
      rollback: { disks: ['vm-106-disk-0'], snap: 's0', discardNewer: true },
    });
    expect(changeLines(plan)).toEqual(['disk.vm-106-disk-0: rollback']);
    expect(change(plan, 'disk.vm-106-disk-0').operation).toEqual({
      op: 'rollback',
      snap: 's0',
      discard: ['s1'],
    });
    expect(stepLines(plan, 'disk.vm-106-disk-0')).toEqual([
      'set_meta top record_intent rollback/s0',
      'set_meta snap:s0 record_intent rollback/s0',
      'remove top',
      'remove snap:s1',
      `allocate top ${16 * MiB} incomplete rollback/s0`,
      `format top ${16 * MiB} backing snap:s0`,
      'set_meta top finish',
      'set_meta snap:s0 finish',
    ]);
    // The replaced top and the discarded s1.
    expect(plan.summary.destroy).toBe(2);
  });
});
