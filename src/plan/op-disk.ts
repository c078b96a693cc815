/** Create, grow, re-tag and destroy a whole disk (intents on the top, or on the oldest layer). */
import type { Intent } from '../model/intent.js';
import { TOP, refKey } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DiskState, SimLayer } from './state.js';
import { chainOf, findIntents, layerAt } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import {
  fail,
  finishTop,
  formatNewTop,
  isComplete,
  ok,
  preallocationFor,
  record,
  remove,
  sameIntent,
  withIntent,
} from './op-steps.js';
import { layersAbove } from './op-rollback.js';

export function createDisk(state: DiskState, size: number, ctx: OpContext): OpResult {
  const intent: Intent = { op: 'create', size };
  const top = layerAt(state, TOP);
  const others = Object.keys(state.layers).filter((k) => k !== 'top');
  if (others.length > 0) return fail(`cannot create: layers already exist (${others.join(', ')})`);
  const incomplete: LayerMeta = { ...ctx.topMeta, size, incomplete: true, intent };
  if (!top) return ok([...formatNewTop(size, undefined, ctx, incomplete, true), finishTop(ctx, size)]);
  if (top.meta?.incomplete && sameIntent(top.meta.intent, intent)) {
    return ok([...formatNewTop(size, undefined, ctx, incomplete, false), finishTop(ctx, size)]);
  }
  return fail('the top exists and is not an interrupted create');
}

export function growDisk(state: DiskState, size: number, ctx: OpContext): OpResult {
  const intent: Intent = { op: 'grow', size };
  const top = layerAt(state, TOP);
  if (!top || !isComplete(top)) return fail('grow needs a complete top layer');
  const steps: Step[] = record(top, intent, state.disk);
  const need = ctx.sizing.capacityFor?.(size);
  if (top.capacity !== undefined && need !== undefined && top.capacity < need) {
    steps.push({ kind: 'extend', layer: TOP, virtual_size: size, capacity: need });
  }
  if (top.virtualSize === undefined || top.virtualSize < size) {
    steps.push({ kind: 'resize', layer: TOP, virtual_size: size, preallocation: preallocationFor(top) });
  }
  steps.push({
    kind: 'set_meta',
    layer: TOP,
    meta: { ...withIntent(top.meta, undefined, state.disk), size },
    purpose: 'finish',
  });
  return ok(steps);
}

export function updateTopMeta(state: DiskState, ctx: OpContext): OpResult {
  const top = layerAt(state, TOP);
  if (!top || !isComplete(top)) return fail('updating metadata needs a complete top layer');
  const meta: LayerMeta = { ...(top.meta ?? { disk: state.disk }), ...ctx.topMeta };
  if (!ctx.topMeta.protect) delete meta.protect;
  if (ctx.topMeta.guest === undefined) delete meta.guest;
  if (top.virtualSize !== undefined) meta.size = top.virtualSize;
  return ok([{ kind: 'set_meta', layer: TOP, meta, purpose: 'update' }]);
}

export function destroyDisk(state: DiskState, ctx: OpContext): OpResult {
  const intent: Intent = { op: 'destroy' };
  const holder = findIntents(state).find((i) => sameIntent(i.intent, intent))?.layer;
  const chain = chainOf(state);
  const base = holder ?? chain?.[0];
  if (!base) return fail('cannot find the oldest layer of the disk');
  const order = removalOrder(state, base);
  return ok([...record(base, intent, state.disk), ...order.map((l) => remove(l.ref, ctx))]);
}

/** Every layer, top-down along the chain where links are known, `last` at the end. */
function removalOrder(state: DiskState, last: SimLayer): SimLayer[] {
  const lastKey = refKey(last.ref);
  const above = new Set(layersAbove(state, last.ref).map((l) => refKey(l.ref)));
  const rest = Object.values(state.layers).filter((l) => refKey(l.ref) !== lastKey);
  const depthOf = (l: SimLayer): number => layersAbove(state, l.ref).length;
  rest.sort((a, b) => {
    const inA = above.has(refKey(a.ref)) ? 1 : 0;
    const inB = above.has(refKey(b.ref)) ? 1 : 0;
    return inA - inB || depthOf(a) - depthOf(b) || refKey(a.ref).localeCompare(refKey(b.ref));
  });
  return [...rest, last];
}
