/** Roll a disk back to a snapshot: drop the top and the newer layers, format a new top on it. */
import type { Intent } from '../model/intent.js';
import type { LayerRef } from '../model/layer.js';
import { TOP, refKey, sameRef, snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DiskState, SimLayer } from './state.js';
import { layerAt } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import {
  fail,
  finishTop,
  formatNewTop,
  isComplete,
  ok,
  record,
  remove,
  sameIntent,
  withIntent,
} from './op-steps.js';

export function layersAbove(state: DiskState, ref: LayerRef): SimLayer[] {
  const depth = new Map<string, number>();
  const target = refKey(ref);
  for (const l of Object.values(state.layers)) {
    let d = 0;
    let cur: SimLayer | undefined = l;
    const seen = new Set<string>();
    while (cur?.backing) {
      const key = refKey(cur.backing);
      d++;
      if (key === target) {
        depth.set(refKey(l.ref), d);
        break;
      }
      if (seen.has(key)) break;
      seen.add(key);
      cur = state.layers[key];
    }
  }
  return [...depth.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k]) => state.layers[k] as SimLayer);
}

export function rollback(
  state: DiskState,
  snap: string,
  ctx: OpContext,
  fallbackVirtualSize?: number,
): OpResult {
  const intent: Intent = { op: 'rollback', snap };
  const S = snapRef(snap);
  const layerS = layerAt(state, S);
  if (!layerS) return fail(`snapshot ${snap} does not exist`);
  const size = layerS.virtualSize ?? fallbackVirtualSize;
  if (size === undefined) return fail(`the virtual size of snapshot ${snap} is unknown`);
  const top = layerAt(state, TOP);
  const markedS = sameIntent(layerS.meta?.intent, intent);
  const finishS: Step = {
    kind: 'set_meta',
    layer: S,
    meta: withIntent(layerS.meta, undefined, state.disk),
    purpose: 'finish',
  };
  const incompleteTop: LayerMeta = { ...ctx.topMeta, size, incomplete: true, intent };
  const recordS = markedS ? [] : record(layerS, intent, state.disk);

  if (top && isComplete(top)) {
    const topMarked = sameIntent(top.meta?.intent, intent);
    if (!topMarked && markedS) {
      // A finished new top: only the target's intent remains.
      if (top.backing && sameRef(top.backing, S) && layersAbove(state, S).length === 1) return ok([finishS]);
      return fail(`the top is not the rolled-back top and carries no rollback intent`);
    }
    const newer = layersAbove(state, S).filter((l) => !sameRef(l.ref, TOP));
    return ok([
      ...record(top, intent, state.disk),
      ...recordS,
      remove(TOP, ctx),
      ...newer.map((l) => remove(l.ref, ctx)),
      ...formatNewTop(size, S, ctx, incompleteTop, true),
      finishTop(ctx, size),
      finishS,
    ]);
  }
  if (!markedS) return fail(`no interrupted rollback to ${snap} to resume`);
  if (!top) {
    const newer = layersAbove(state, S);
    return ok([
      ...newer.map((l) => remove(l.ref, ctx)),
      ...formatNewTop(size, S, ctx, incompleteTop, true),
      finishTop(ctx, size),
      finishS,
    ]);
  }
  // An incomplete new top: the layers above the target were removed before it was allocated.
  return ok([...formatNewTop(size, S, ctx, incompleteTop, false), finishTop(ctx, size), finishS]);
}
