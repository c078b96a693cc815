/** A change's type, address, actions, `after` and reason detail follow from its operation. */
import { describe, expect, it } from 'vitest';
import { draftChange } from '../../../src/plan/change.js';

const topMeta = { disk: 'd0' };

describe('draftChange', () => {
  it('derives a grow from its sizes', () => {
    expect(draftChange({ op: 'grow', from: 1, to: 2 }, 'd0', { topMeta })).toEqual({
      address: 'disk.d0',
      type: 'lvchain_disk',
      name: 'd0',
      actions: ['update'],
      before: { size: 1 },
      after: { size: 2 },
      reason: 'size_increased',
      reasonDetail: 'the declared size grew from 1 to 2 bytes',
      irreversible: false,
      operation: { op: 'grow', from: 1, to: 2 },
      topMeta,
    });
  });

  it('adds the facts an operation does not hold after its own fields', () => {
    const c = draftChange({ op: 'create', size: 5 }, 'd0', { topMeta, after: { protect: true } });
    expect(Object.entries(c.after ?? {})).toEqual([
      ['size', 5],
      ['protect', true],
    ]);
  });

  it('places a resumed snapshot on the snapshot, and a resumed rollback as irreversible', () => {
    const snap = draftChange(
      { op: 'resume', intent: { op: 'snapshot', snap: 's1', created: '2026-01-01T00:00:00Z', kind: 'auto' } },
      'd0',
      { topMeta },
    );
    expect([snap.address, snap.type, snap.actions, snap.irreversible]).toEqual([
      'snapshot.d0@s1',
      'lvchain_snapshot',
      ['create'],
      false,
    ]);
    const rb = draftChange({ op: 'resume', intent: { op: 'rollback', snap: 's1' } }, 'd0', { topMeta });
    expect([rb.address, rb.actions, rb.irreversible, rb.reasonDetail]).toEqual([
      'disk.d0',
      ['delete', 'create'],
      true,
      'finish the interrupted roll back to s1 (intent rollback/s1)',
    ]);
  });

  it('needs a reason for a deletion', () => {
    const del = {
      op: 'delete',
      snap: 's1',
      merge: 'merge_stream',
      commit_bytes: null,
      stream_bytes: 0,
      chosen_because: 'no_estimate',
    } as const;
    expect(() => draftChange(del, 'd0', { topMeta })).toThrow(/needs a reason/);
    const c = draftChange(del, 'd0', { topMeta, why: { reason: 'retention_expired', detail: 'x' } });
    expect([c.address, c.reason, c.after]).toEqual(['snapshot.d0@s1', 'retention_expired', null]);
  });
});
