/** Take a snapshot: the old top becomes the snapshot layer and a new top is formatted on it. */
import type { Intent, SnapshotKind } from '../model/intent.js';
import { TOP, sameRef, snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DiskState } from './state.js';
import { layerAt } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import { fail, finishTop, formatNewTop, isComplete, ok, record, sameIntent } from './op-steps.js';

export function snapshotMeta(
  state: DiskState,
  snap: string,
  created: string,
  kind: SnapshotKind,
  ctx: OpContext,
  size: number | undefined,
): LayerMeta {
  const m: LayerMeta = { disk: state.disk, snap, created, kind };
  if (size !== undefined) m.size = size;
  if (ctx.topMeta.guest !== undefined) m.guest = ctx.topMeta.guest;
  if (ctx.policy !== undefined && kind === 'auto') m.policy = ctx.policy;
  if (ctx.live) m.consistency = 'crash';
  return m;
}

export function takeSnapshot(
  state: DiskState,
  snap: string,
  created: string,
  kind: SnapshotKind,
  ctx: OpContext,
  fallbackVirtualSize?: number,
): OpResult {
  const intent: Intent = { op: 'snapshot', snap, created, kind };
  const S = snapRef(snap);
  const top = layerAt(state, TOP);
  const layerS = layerAt(state, S);
  const finishSnap = (size: number): Step => ({
    kind: 'set_meta',
    layer: S,
    meta: snapshotMeta(state, snap, created, kind, ctx, size),
    purpose: 'finish',
  });
  const incompleteTop = (size: number): LayerMeta => ({ ...ctx.topMeta, size, incomplete: true });
  // A running VM keeps writing to the renamed layer until it switches to the new top; the
  // switch follows the finished top, so a resume never formats a top the VM writes to.
  const switched: Step[] = ctx.live ? [{ kind: 'switch', layer: TOP, backing: S }] : [];

  if (top && isComplete(top) && !layerS) {
    const size = top.virtualSize ?? fallbackVirtualSize;
    if (size === undefined) return fail('the virtual size of the top is unknown');
    return ok([
      ...record(top, intent, state.disk),
      { kind: 'rename', from: TOP, to: S },
      ...formatNewTop(size, S, ctx, incompleteTop(size), true),
      finishTop(ctx, size),
      ...switched,
      finishSnap(size),
    ]);
  }
  if (!layerS || !sameIntent(layerS.meta?.intent, intent)) {
    return fail(`no interrupted snapshot ${snap} to resume`);
  }
  const size = layerS.virtualSize ?? fallbackVirtualSize;
  if (size === undefined) return fail('the virtual size of the snapshot is unknown');
  if (!top)
    return ok([
      ...formatNewTop(size, S, ctx, incompleteTop(size), true),
      finishTop(ctx, size),
      ...switched,
      finishSnap(size),
    ]);
  if (top.meta?.incomplete) {
    if (ctx.live?.topHeld) return fail('the running VM already writes to the unfinished top');
    return ok([
      ...formatNewTop(size, S, ctx, incompleteTop(size), false),
      finishTop(ctx, size),
      ...switched,
      finishSnap(size),
    ]);
  }
  if (top.backing && sameRef(top.backing, S))
    return ok([...(ctx.live && !ctx.live.topHeld ? switched : []), finishSnap(size)]);
  return fail(`the top is complete but not backed by snapshot ${snap}`);
}
