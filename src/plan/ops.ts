/**
 * The crash-safe operations of DESIGN §6. Each one computes the steps that remain from the
 * disk's current state: from scratch when nothing is recorded, or from wherever an
 * interrupted run stopped. Planning and resuming are therefore the same code, and every
 * intermediate state is recognised from the layers, their links and their metadata alone.
 *
 * Where the intent lives is chosen so that the last step is one metadata write on one layer
 * that survives the operation:
 *   create, grow          on the top
 *   snapshot              on the old top, which becomes the snapshot layer
 *   delete (stream)       on the child, which survives
 *   delete (commit)       on the snapshot, which is renamed to the child's name
 *   rollback              on the old top and on the target snapshot; the new top carries it
 *                         while incomplete, so an old top and a finished new top never look alike
 *   destroy               on the oldest layer, which is removed last
 */
import type { Intent, MergeDirection, SnapshotKind } from '../model/intent.js';
import { encodeIntent } from '../model/intent.js';
import type { LayerRef } from '../model/layer.js';
import { TOP, describeRef, refKey, sameRef, snapRef, trashRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DiskState, SimLayer, Sizing } from './state.js';
import { chainOf, findIntents, layerAt } from './state.js';

export interface OpContext {
  sizing: Sizing;
  wipeOnFree: boolean;
  wipeOnCreate: boolean;
  /** Metadata of a finished top: disk, guest, protect. */
  topMeta: LayerMeta;
  /** Policy recorded on new snapshots. */
  policy?: string;
}

export type OpResult = { ok: true; steps: Step[] } | { ok: false; reason: string };

const ok = (steps: Step[]): OpResult => ({ ok: true, steps });
const fail = (reason: string): OpResult => ({ ok: false, reason });

function withIntent(meta: LayerMeta | undefined, intent: Intent | undefined, disk: string): LayerMeta {
  const m: LayerMeta = { ...(meta ?? { disk }) };
  if (intent) m.intent = intent;
  else delete m.intent;
  return m;
}

function sameIntent(a: Intent | undefined, b: Intent): boolean {
  return a !== undefined && encodeIntent(a) === encodeIntent(b);
}

function record(layer: SimLayer, intent: Intent, disk: string): Step[] {
  if (sameIntent(layer.meta?.intent, intent)) return [];
  return [
    {
      kind: 'set_meta',
      layer: layer.ref,
      meta: withIntent(layer.meta, intent, disk),
      purpose: 'record_intent',
    },
  ];
}

function remove(ref: LayerRef, ctx: OpContext): Step {
  return { kind: 'remove', layer: ref, wipe: ctx.wipeOnFree };
}

function formatNewTop(
  virtualSize: number,
  backing: LayerRef | undefined,
  ctx: OpContext,
  incompleteMeta: LayerMeta,
  allocate: boolean,
): Step[] {
  const steps: Step[] = [];
  if (allocate) {
    const capacity = ctx.sizing.capacityFor?.(virtualSize);
    steps.push({
      kind: 'allocate',
      layer: TOP,
      virtual_size: virtualSize,
      meta: incompleteMeta,
      ...(capacity !== undefined ? { capacity } : {}),
    });
  }
  if (ctx.wipeOnCreate) steps.push({ kind: 'wipe', layer: TOP });
  steps.push(
    backing
      ? { kind: 'format', layer: TOP, virtual_size: virtualSize, backing }
      : { kind: 'format', layer: TOP, virtual_size: virtualSize },
  );
  return steps;
}

/** A finished top's metadata: the disk-level fields plus its virtual size. */
function finishTop(ctx: OpContext, size: number): Step {
  return { kind: 'set_meta', layer: TOP, meta: { ...ctx.topMeta, size }, purpose: 'finish' };
}

function sameBacking(a: LayerRef | null | undefined, b: LayerRef | null | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === null || b === null) return a === b;
  return sameRef(a, b);
}

/** The layer backed by `ref`, ignoring a child already renamed aside (it keeps its backing). */
function liveChildOf(state: DiskState, ref: LayerRef): SimLayer | undefined {
  return Object.values(state.layers).find(
    (l) => l.ref.role !== 'trash' && l.backing && sameRef(l.backing, ref),
  );
}

function isComplete(layer: SimLayer): boolean {
  return layer.formatted && layer.meta?.incomplete !== true;
}

// ---------------------------------------------------------------- create

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

// ---------------------------------------------------------------- grow

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

/**
 * Metadata preallocation of a grown range reads stale extents unless the image has
 * extended L2 (reference: proxmox-ve9-volume-chain §7), so images without it grow unallocated.
 */
function preallocationFor(layer: SimLayer): 'metadata' | 'off' {
  return layer.extendedL2 ? 'metadata' : 'off';
}

// ---------------------------------------------------------------- top metadata

/** Bring the top's disk-level metadata (protect, guest) in line with the config. */
export function updateTopMeta(state: DiskState, ctx: OpContext): OpResult {
  const top = layerAt(state, TOP);
  if (!top || !isComplete(top)) return fail('updating metadata needs a complete top layer');
  const meta: LayerMeta = { ...(top.meta ?? { disk: state.disk }), ...ctx.topMeta };
  if (!ctx.topMeta.protect) delete meta.protect;
  if (ctx.topMeta.guest === undefined) delete meta.guest;
  if (top.virtualSize !== undefined) meta.size = top.virtualSize;
  return ok([{ kind: 'set_meta', layer: TOP, meta, purpose: 'update' }]);
}

// ---------------------------------------------------------------- snapshot

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

  if (top && isComplete(top) && !layerS) {
    const size = top.virtualSize ?? fallbackVirtualSize;
    if (size === undefined) return fail('the virtual size of the top is unknown');
    return ok([
      ...record(top, intent, state.disk),
      { kind: 'rename', from: TOP, to: S },
      ...formatNewTop(size, S, ctx, incompleteTop(size), true),
      finishTop(ctx, size),
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
      finishSnap(size),
    ]);
  if (top.meta?.incomplete)
    return ok([
      ...formatNewTop(size, S, ctx, incompleteTop(size), false),
      finishTop(ctx, size),
      finishSnap(size),
    ]);
  if (top.backing && sameRef(top.backing, S)) return ok([finishSnap(size)]);
  return fail(`the top is complete but not backed by snapshot ${snap}`);
}

// ---------------------------------------------------------------- delete

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
      { kind: 'stream', layer: child.ref, from: S, onto: layerS.backing, bytes },
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
      const steps: Step[] = [...record(layerS, intent, state.disk)];
      const childSize = child.virtualSize;
      if (childSize !== undefined && (layerS.virtualSize === undefined || layerS.virtualSize < childSize)) {
        const need = ctx.sizing.capacityFor?.(childSize);
        if (layerS.capacity !== undefined && need !== undefined && layerS.capacity < need) {
          steps.push({ kind: 'extend', layer: S, virtual_size: childSize, capacity: need });
        }
        if (layerS.virtualSize !== undefined) {
          steps.push({
            kind: 'resize',
            layer: S,
            virtual_size: childSize,
            preallocation: preallocationFor(layerS),
          });
        }
      }
      steps.push(
        { kind: 'commit', layer: C, into: S, bytes },
        ...commitSwap(S, C, child.meta ?? { disk: state.disk }, ctx),
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
  return ok(commitSwap(S, C, trash.meta ?? { disk: state.disk }, ctx).slice(2));
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

// ---------------------------------------------------------------- rollback

/** Layers from which `ref` is reachable through backing links, farthest first. */
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

// ---------------------------------------------------------------- destroy

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

// ---------------------------------------------------------------- leftovers and resume

/** Trash layers left after a finished commit merge: their data lives on in the merged layer. */
export function cleanupLeftovers(state: DiskState, ctx: OpContext): Step[] {
  const trash = Object.values(state.layers).filter((l) => l.ref.role === 'trash');
  if (trash.length === 0 || findIntents(state).length > 0) return [];
  return trash.sort((a, b) => refKey(a.ref).localeCompare(refKey(b.ref))).map((l) => remove(l.ref, ctx));
}

/** `figures`: what the merge of an interrupted delete copies when it is run again. */
export function resume(
  state: DiskState,
  intent: Intent,
  ctx: OpContext,
  figures: MergeFigures = {},
): OpResult {
  switch (intent.op) {
    case 'create':
      return createDisk(state, intent.size, ctx);
    case 'grow':
      return growDisk(state, intent.size, ctx);
    case 'snapshot':
      return takeSnapshot(state, intent.snap, intent.created, intent.kind, ctx);
    case 'delete':
      return deleteSnapshot(state, intent.snap, intent.direction, figures, ctx);
    case 'rollback':
      return rollback(state, intent.snap, ctx);
    case 'destroy':
      return destroyDisk(state, ctx);
  }
}
