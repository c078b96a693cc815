/** Delete a snapshot by merging it: stream it into its child, or commit the child into it. */
import type { Intent, MergeDirection } from '../model/intent.js';
import type { LayerRef } from '../model/layer.js';
import { describeRef, snapRef, trashRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DiskState } from './state.js';
import { findIntents, layerAt } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import {
  fail,
  liveChildOf,
  ok,
  preallocationFor,
  record,
  remove,
  sameBacking,
  sameIntent,
  withIntent,
} from './op-steps.js';

export interface MergeFigures {
  commitBytes?: number;
  streamBytes?: number;
}

export function deleteSnapshot(
  state: DiskState,
  snap: string,
  direction: MergeDirection,
  figures: MergeFigures,
  ctx: OpContext,
): OpResult {
  return direction === 'stream'
    ? streamDelete(state, snap, figures.streamBytes ?? 0, ctx)
    : commitDelete(state, snap, figures.commitBytes ?? 0, ctx);
}

function streamDelete(state: DiskState, snap: string, bytes: number, ctx: OpContext): OpResult {
  const intent: Intent = { op: 'delete', snap, direction: 'stream' };
  const S = snapRef(snap);
  const layerS = layerAt(state, S);
  const holder = findIntents(state).find((i) => sameIntent(i.intent, intent))?.layer;
  const child = layerS ? liveChildOf(state, S) : undefined;

  if (layerS && child) {
    if (layerS.backing === undefined) return fail(`the backing of snapshot ${snap} is unknown`);
    return ok([
      ...record(child, intent, state.disk),
      { kind: 'stream', layer: child.ref, from: S, onto: layerS.backing, bytes, ...rateOf(ctx) },
      remove(S, ctx),
      {
        kind: 'set_meta',
        layer: child.ref,
        meta: withIntent(child.meta, undefined, state.disk),
        purpose: 'finish',
      },
    ]);
  }
  if (!holder) return fail(`snapshot ${snap} has no child to stream into`);
  const finish: Step = {
    kind: 'set_meta',
    layer: holder.ref,
    meta: withIntent(holder.meta, undefined, state.disk),
    purpose: 'finish',
  };
  if (layerS) {
    if (!sameBacking(holder.backing, layerS.backing)) {
      return fail(`${describeRef(holder.ref)} is neither backed by snapshot ${snap} nor by its parent`);
    }
    return ok([remove(S, ctx), finish]);
  }
  return ok([finish]);
}

function commitDelete(state: DiskState, snap: string, bytes: number, ctx: OpContext): OpResult {
  const intent: Intent = { op: 'delete', snap, direction: 'commit' };
  const S = snapRef(snap);
  const layerS = layerAt(state, S);

  if (layerS) {
    const child = liveChildOf(state, S);
    if (child) {
      const C = child.ref;
      const swap = commitSwap(S, C, child.meta ?? { disk: state.disk }, ctx);
      // The running VM writes to S already: the top is stale, and committing it again would
      // overwrite those writes.
      if (layerS.meta?.pivoted) return ok(swap);
      const steps: Step[] = [...record(layerS, intent, state.disk)];
      const childSize = child.virtualSize;
      if (childSize !== undefined && (layerS.virtualSize === undefined || layerS.virtualSize < childSize)) {
        const need = ctx.sizing.capacityFor?.(childSize);
        if (layerS.capacity !== undefined && need !== undefined && layerS.capacity < need) {
          steps.push({ kind: 'extend', layer: S, virtual_size: childSize, capacity: need });
        }
        // A live commit grows the base itself; qemu-img cannot resize an image QEMU holds.
        if (layerS.virtualSize !== undefined && !ctx.live) {
          steps.push({
            kind: 'resize',
            layer: S,
            virtual_size: childSize,
            preallocation: preallocationFor(layerS),
          });
        }
      }
      const pivot: LayerMeta | undefined =
        ctx.live && C.role === 'top'
          ? { ...withIntent(layerS.meta, intent, state.disk), pivoted: true }
          : undefined;
      steps.push(
        { kind: 'commit', layer: C, into: S, bytes, ...(pivot ? { pivot } : {}), ...rateOf(ctx) },
        ...swap,
      );
      return ok(steps);
    }
    // The child was already renamed aside: find it by its trash name.
    if (!sameIntent(layerS.meta?.intent, intent)) return fail(`snapshot ${snap} has no child to commit`);
    const trash = Object.values(state.layers).find((l) => l.ref.role === 'trash');
    if (!trash || trash.ref.role !== 'trash')
      return fail(`snapshot ${snap} has no child and no renamed child`);
    const C = trash.ref.of;
    if (layerAt(state, C)) return fail(`both ${describeRef(C)} and its renamed copy exist`);
    return ok(commitSwap(S, C, trash.meta ?? { disk: state.disk }, ctx).slice(1));
  }

  const holder = findIntents(state).find((i) => sameIntent(i.intent, intent))?.layer;
  if (!holder) return fail(`snapshot ${snap} does not exist`);
  const C = holder.ref;
  if (C.role === 'trash') return fail('the intent is on a trash layer');
  const trash = layerAt(state, trashRef(C));
  if (!trash)
    return fail(`the renamed copy of ${describeRef(C)} is missing; its metadata cannot be restored`);
  // S took C's name under a running VM, and the run may have stopped before QEMU's node of S was
  // moved onto the new name: the reattach finds out, and finishes what it started.
  const reattach: Step[] = ctx.live ? [{ kind: 'reattach', layer: C, was: S }] : [];
  return ok([...reattach, ...commitSwap(S, C, trash.meta ?? { disk: state.disk }, ctx).slice(2)]);
}

/** After `commit C into S`: move C aside, give S C's name and metadata, drop the old C. */
function commitSwap(S: LayerRef, C: LayerRef, childMeta: LayerMeta, ctx: OpContext): Step[] {
  if (C.role === 'trash') throw new Error('cannot swap a trash layer');
  const X = trashRef(C);
  return [
    { kind: 'rename', from: C, to: X },
    { kind: 'rename', from: S, to: C },
    { kind: 'set_meta', layer: C, meta: withIntent(childMeta, undefined, childMeta.disk), purpose: 'finish' },
    remove(X, ctx),
  ];
}

function rateOf(ctx: OpContext): { rate?: number } {
  return ctx.mergeRate !== undefined ? { rate: ctx.mergeRate } : {};
}
