/**
 * Which operations a linked clone of a layer blocks: those that merge into, merge away or remove
 * that layer. A snapshot or a grow leaves every name showing the data it showed, so an image
 * backed by the top does not block them (and an LVM plan reads no foreign header for them).
 */
import { describe, expect, it } from 'vitest';
import type { DiskState, SimLayer, Sizing } from '../../../src/plan/state.js';
import type { OpContext, OpResult } from '../../../src/plan/op-steps.js';
import { destroyDisk, growDisk } from '../../../src/plan/op-disk.js';
import { deleteSnapshot } from '../../../src/plan/op-delete.js';
import { rollback } from '../../../src/plan/op-rollback.js';
import { takeSnapshot } from '../../../src/plan/op-snapshot.js';
import { dependantConflict } from '../../../src/plan/interpret.js';
import type { ObservedDisk } from '../../../src/model/observed.js';
import { refKey, snapRef, TOP } from '../../../src/model/layer.js';
import type { Step } from '../../../src/model/plan.js';

const MiB = 1024 * 1024;
const sizing: Sizing = { formattedBytes: () => 256 * 1024, fullyAllocated: (v) => v + MiB };
const ctx: OpContext = { sizing, wipeOnFree: false, wipeOnCreate: false, topMeta: { disk: 'd' } };
const names = { top: 'd.qcow2', 'snap:s1': 'snap-s1-d.qcow2', 'snap:s2': 'snap-s2-d.qcow2' };

/** s1 ← s2 ← top, each layer the observed file it is named after. */
function chain(): DiskState {
  const layers: Record<string, SimLayer> = {};
  let below: SimLayer | undefined;
  for (const ref of [snapRef('s1'), snapRef('s2'), TOP]) {
    const layer: SimLayer = {
      ref,
      origin: names[refKey(ref) as keyof typeof names],
      meta:
        ref.role === 'snapshot'
          ? { disk: 'd', snap: ref.snap, created: '2026-01-01T00:00:00Z', kind: 'pinned' }
          : { disk: 'd' },
      formatted: true,
      virtualSize: 4 * MiB,
      backing: below ? below.ref : null,
      extendedL2: true,
      bytes: MiB,
      extents: { data: [[0, MiB]], zero: [] },
    };
    layers[refKey(ref)] = layer;
    below = layer;
  }
  return { disk: 'd', layers };
}

/** The observed disk, with `clone.qcow2` backed by the named layer. */
function observedWithClone(layer: string): ObservedDisk {
  return {
    name: 'd',
    storage: 'lab',
    layers: Object.values(names).map((name) => ({
      ref: TOP,
      name,
      header: { state: 'not-read', reason: 'unit test' },
      bytes: MiB,
      ...(name === layer ? { dependants: ['/srv/images/901/clone.qcow2'] } : {}),
    })),
  };
}

function steps(r: OpResult): Step[] {
  if (!r.ok) throw new Error(r.reason);
  return r.steps;
}

describe('changes refused for a layer another image is backed by', () => {
  const state = chain();
  const ops: Record<string, Step[]> = {
    'delete s1 by commit': steps(deleteSnapshot(state, 's1', 'commit', {}, ctx)),
    'delete s1 by stream': steps(deleteSnapshot(state, 's1', 'stream', {}, ctx)),
    'rollback to s2': steps(rollback(state, 's2', ctx)),
    destroy: steps(destroyDisk(state, ctx)),
    snapshot: steps(takeSnapshot(state, 's3', '2026-01-02T00:00:00Z', 'pinned', ctx)),
    grow: steps(growDisk(state, 8 * MiB, ctx)),
  };
  const blocked = (layer: string) =>
    Object.entries(ops)
      .filter(([, s]) => dependantConflict(state, s, observedWithClone(layer)) !== undefined)
      .map(([name]) => name);

  it('a clone of s1 blocks every merge of s1, the destroy, and nothing else', () => {
    expect(blocked('snap-s1-d.qcow2')).toEqual(['delete s1 by commit', 'delete s1 by stream', 'destroy']);
  });

  it('a clone of s2 blocks the commit, which writes s2 into s1, but not the stream, which keeps its view', () => {
    expect(blocked('snap-s2-d.qcow2')).toEqual(['delete s1 by commit', 'destroy']);
  });

  it('a clone of the top blocks the rollback and the destroy, which remove it', () => {
    expect(blocked('d.qcow2')).toEqual(['rollback to s2', 'destroy']);
  });

  it('names the layer and the image', () => {
    expect(dependantConflict(state, ops.destroy ?? [], observedWithClone('snap-s1-d.qcow2'))).toBe(
      'snap-s1-d.qcow2 is the backing file of /srv/images/901/clone.qcow2, which lvchain does not manage; merging or removing it would break it',
    );
  });
});
