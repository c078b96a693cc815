import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DiskState, SimLayer, Sizing } from '../../../src/plan/state.js';
import { applySteps, findIntents, chainOf, withSimulatedFigures } from '../../../src/plan/state.js';
import { zeroedBytes } from '../../../src/model/step-kinds.js';
import { shapeOf } from '../../../src/plan/shape.js';
import type { OpContext, OpResult } from '../../../src/plan/op-steps.js';
import { cleanupLeftovers, resume } from '../../../src/plan/ops.js';
import { createDisk, destroyDisk, growDisk } from '../../../src/plan/op-disk.js';
import { deleteSnapshot } from '../../../src/plan/op-delete.js';
import { rollback } from '../../../src/plan/op-rollback.js';
import { takeSnapshot } from '../../../src/plan/op-snapshot.js';
import { refKey, snapRef, TOP } from '../../../src/model/layer.js';
import type { Step } from '../../../src/model/plan.js';

const MiB = 1024 * 1024;
const lvmSizing: Sizing = {
  capacityFor: (v) => Math.ceil((v + v / 512 + MiB) / (4 * MiB)) * 4 * MiB,
  formattedBytes: () => 256 * 1024,
  fullyAllocated: (v) => v + v / 512 + MiB,
};
const dirSizing: Sizing = {
  formattedBytes: (v) => 256 * 1024 + Math.floor(v / 4096),
  fullyAllocated: (v) => v + v / 512 + MiB,
};

function ctxFor(sizing: Sizing, wipe: boolean): OpContext {
  return { sizing, wipeOnFree: wipe, wipeOnCreate: wipe, topMeta: { disk: 'd', protect: true } };
}

/** A clean chain: base snapshots s0..s(n-1), then the top; virtual sizes never shrink upward. */
function chain(n: number, sizing: Sizing, sizes: number[]): DiskState {
  const layers: Record<string, SimLayer> = {};
  let below: SimLayer | undefined;
  for (let i = 0; i <= n; i++) {
    const ref = i === n ? TOP : snapRef(`s${i}`);
    const virtualSize = sizes[Math.min(i, sizes.length - 1)] as number;
    const capacity = sizing.capacityFor?.(virtualSize);
    const layer: SimLayer = {
      ref,
      meta:
        i === n
          ? { disk: 'd', protect: true, size: virtualSize }
          : {
              disk: 'd',
              snap: `s${i}`,
              created: `2026-01-0${i + 1}T00:00:00Z`,
              kind: 'pinned',
              size: virtualSize,
            },
      formatted: true,
      virtualSize,
      backing: below ? below.ref : null,
      extendedL2: true,
      capacity,
      bytes: capacity ?? 1000 * (i + 1),
      extents: { data: [[i * MiB, (i + 2) * MiB]], zero: [] },
    };
    layers[refKey(ref)] = layer;
    below = layer;
  }
  return { disk: 'd', layers };
}

function mustSteps(r: OpResult): Step[] {
  if (!r.ok) throw new Error(r.reason);
  return r.steps;
}

/**
 * Kill after every prefix of the steps; the state alone must lead to the same end state,
 * through the interrupted operation's resume or, once no intent is left, leftover cleanup.
 */
function assertResumableEverywhere(start: DiskState, steps: Step[], sizing: Sizing, ctx: OpContext): void {
  const end = applySteps(start, steps, sizing);
  for (let k = 1; k <= steps.length; k++) {
    const crashed = applySteps(start, steps.slice(0, k), sizing);
    const intents = findIntents(crashed);
    let rest: Step[];
    if (intents.length > 0) {
      const texts = new Set(intents.map((i) => JSON.stringify(i.intent)));
      expect(texts.size, `one intent after ${k} steps`).toBe(1);
      rest = mustSteps(resume(crashed, intents[0]!.intent, ctx));
    } else {
      rest = cleanupLeftovers(crashed, ctx);
    }
    const resumed = applySteps(crashed, rest, sizing);
    expect(shapeOf(resumed), `resume after ${k}/${steps.length} steps: ${steps[k - 1]?.kind}`).toEqual(
      shapeOf(end),
    );
    // Resuming is itself interruptible: the resumed steps are a suffix of some valid run.
    expect(rest.length).toBeLessThanOrEqual(steps.length);
  }
  // A finished operation leaves no intent and no leftovers, and every size tag it wrote is true.
  expect(findIntents(end)).toEqual([]);
  for (const l of Object.values(end.layers)) {
    if (l.meta?.size !== undefined) expect(l.meta.size, `size tag of ${refKey(l.ref)}`).toBe(l.virtualSize);
  }
  if (end.layers['top'])
    expect(end.layers['top'].meta?.size, 'the top records its size').toBe(end.layers['top'].virtualSize);
  expect(cleanupLeftovers(end, ctx)).toEqual([]);
}

const sizingArb = fc.constantFrom(['lvm', lvmSizing] as const, ['dir', dirSizing] as const);

describe('operations resume from every step boundary', () => {
  it('create', () => {
    fc.assert(
      fc.property(sizingArb, fc.boolean(), ([, sizing], wipe) => {
        const ctx = ctxFor(sizing, wipe);
        const empty: DiskState = { disk: 'd', layers: {} };
        const steps = mustSteps(createDisk(empty, 64 * MiB, ctx));
        assertResumableEverywhere(empty, steps, sizing, ctx);
        const end = applySteps(empty, steps, sizing);
        expect(end.layers['top']?.meta).toEqual({ disk: 'd', protect: true, size: 64 * MiB });
      }),
    );
  });

  it('grow', () => {
    fc.assert(
      fc.property(sizingArb, fc.integer({ min: 0, max: 4 }), ([, sizing], n) => {
        const ctx = ctxFor(sizing, false);
        const start = chain(n, sizing, [64 * MiB]);
        const steps = mustSteps(growDisk(start, 512 * MiB, ctx));
        assertResumableEverywhere(start, steps, sizing, ctx);
        expect(applySteps(start, steps, sizing).layers['top']?.virtualSize).toBe(512 * MiB);
      }),
    );
  });

  it('snapshot', () => {
    fc.assert(
      fc.property(sizingArb, fc.boolean(), fc.integer({ min: 0, max: 4 }), ([, sizing], wipe, n) => {
        const ctx = ctxFor(sizing, wipe);
        const start = chain(n, sizing, [64 * MiB]);
        const steps = mustSteps(takeSnapshot(start, 'new', '2026-02-01T00:00:00Z', 'pinned', ctx));
        assertResumableEverywhere(start, steps, sizing, ctx);
        const end = applySteps(start, steps, sizing);
        const order = chainOf(end)?.map((l) => refKey(l.ref));
        expect(order).toEqual([...Array.from({ length: n }, (_, i) => `snap:s${i}`), 'snap:new', 'top']);
      }),
    );
  });

  it('delete in both directions, any position, after a grow', () => {
    fc.assert(
      fc.property(
        sizingArb,
        fc.boolean(),
        fc
          .integer({ min: 1, max: 5 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))),
        fc.constantFrom('commit' as const, 'stream' as const),
        fc.boolean(),
        ([, sizing], wipe, [n, victim], direction, grown) => {
          const ctx = ctxFor(sizing, wipe);
          const start = chain(n, sizing, grown ? [64 * MiB, 64 * MiB, 128 * MiB, 256 * MiB] : [64 * MiB]);
          const steps = mustSteps(
            deleteSnapshot(start, `s${victim}`, direction, { commitBytes: 7, streamBytes: 9 }, ctx),
          );
          assertResumableEverywhere(start, steps, sizing, ctx);
          const end = applySteps(start, steps, sizing);
          const order = chainOf(end)?.map((l) => refKey(l.ref));
          const expected = [...Array.from({ length: n }, (_, i) => `snap:s${i}`), 'top'].filter(
            (k) => k !== `snap:s${victim}`,
          );
          expect(order).toEqual(expected);
          // The child keeps its own metadata, whichever layer now holds its data.
          const childKey = victim + 1 < n ? `snap:s${victim + 1}` : 'top';
          expect(end.layers[childKey]?.meta).toEqual(start.layers[childKey]?.meta);
          // A commit leaves a layer big enough for the child's view.
          expect(end.layers[childKey]?.virtualSize).toBe(start.layers[childKey]?.virtualSize);
        },
      ),
    );
  });

  it('rollback, to the newest and with newer snapshots discarded', () => {
    fc.assert(
      fc.property(
        sizingArb,
        fc.boolean(),
        fc
          .integer({ min: 1, max: 5 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))),
        ([, sizing], wipe, [n, target]) => {
          const ctx = ctxFor(sizing, wipe);
          const start = chain(n, sizing, [64 * MiB]);
          const steps = mustSteps(rollback(start, `s${target}`, ctx));
          assertResumableEverywhere(start, steps, sizing, ctx);
          const end = applySteps(start, steps, sizing);
          const order = chainOf(end)?.map((l) => refKey(l.ref));
          expect(order).toEqual([...Array.from({ length: target + 1 }, (_, i) => `snap:s${i}`), 'top']);
          expect(end.layers['top']?.meta).toEqual({ disk: 'd', protect: true, size: 64 * MiB });
        },
      ),
    );
  });

  it('destroy', () => {
    fc.assert(
      fc.property(sizingArb, fc.boolean(), fc.integer({ min: 0, max: 5 }), ([, sizing], wipe, n) => {
        const ctx = ctxFor(sizing, wipe);
        const start = chain(n, sizing, [64 * MiB]);
        const steps = mustSteps(destroyDisk(start, ctx));
        assertResumableEverywhere(start, steps, sizing, ctx);
        expect(Object.keys(applySteps(start, steps, sizing).layers)).toEqual([]);
      }),
    );
  });
});

describe('the bytes a wipe zeroes', () => {
  it('are the size of each LV it zeroes, as the simulation holds them, and only with a wipe policy', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 4 }), (wipe, n) => {
        const ctx = ctxFor(lvmSizing, wipe);
        const start = chain(n, lvmSizing, [64 * MiB, 256 * MiB]);
        const zeroed = (steps: Step[]) =>
          withSimulatedFigures(start, steps, lvmSizing).reduce((sum, st) => sum + zeroedBytes(st), 0);
        // A snapshot: the new top's LV, zeroed before it is formatted.
        const top = start.layers['top'];
        const snap = mustSteps(takeSnapshot(start, 'new', '2026-02-01T00:00:00Z', 'pinned', ctx));
        expect(zeroed(snap)).toBe(wipe ? lvmSizing.capacityFor?.(top?.virtualSize ?? 0) : 0);
        // A merge: the LV that is removed, zeroed first.
        const gone = mustSteps(
          deleteSnapshot(start, 's0', 'stream', { commitBytes: 7, streamBytes: 9 }, ctx),
        );
        const removed = gone.filter((st) => st.kind === 'remove');
        expect(removed).toHaveLength(1);
        expect(zeroed(gone)).toBe(wipe ? start.layers['snap:s0']?.capacity : 0);
      }),
    );
  });
});

describe('states that are not an interrupted operation are refused, not guessed', () => {
  it('a complete top with a rollback intent only on the target and extra layers above it', () => {
    const start = chain(3, dirSizing, [64 * MiB]);
    const marked: DiskState = {
      ...start,
      layers: {
        ...start.layers,
        'snap:s0': {
          ...(start.layers['snap:s0'] as SimLayer),
          meta: { disk: 'd', snap: 's0', intent: { op: 'rollback', snap: 's0' } },
        },
      },
    };
    const r = rollback(marked, 's0', ctxFor(dirSizing, false));
    expect(r.ok).toBe(false);
  });

  it('a commit whose renamed child disappeared cannot restore metadata and says so', () => {
    const start = chain(2, dirSizing, [64 * MiB]);
    const ctx = ctxFor(dirSizing, false);
    const steps = mustSteps(deleteSnapshot(start, 's0', 'commit', {}, ctx));
    const renameIdx = steps.findIndex((s) => s.kind === 'rename' && s.to.role === 'snapshot');
    const crashed = applySteps(start, steps.slice(0, renameIdx + 1), dirSizing);
    const trashKey = Object.keys(crashed.layers).find((k) => k.startsWith('trash:')) as string;
    const tampered: DiskState = { ...crashed, layers: { ...crashed.layers } };
    delete (tampered.layers as Record<string, SimLayer>)[trashKey];
    const r = resume(tampered, { op: 'delete', snap: 's0', direction: 'commit' }, ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/renamed copy/);
  });
});
