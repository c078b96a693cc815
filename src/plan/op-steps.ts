/**
 * The vocabulary the crash-safe operations (ops.ts) are written in: their context and result,
 * and the step patterns they share (record an intent, format a new top, finish a layer).
 */
import type { Intent } from '../model/intent.js';
import { encodeIntent } from '../model/intent.js';
import type { LayerRef } from '../model/layer.js';
import { TOP, sameRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DesiredStorage } from '../model/desired.js';
import { wipeFlags } from '../model/on-storage.js';
import type { DiskState, SimLayer, Sizing } from './state.js';

export interface OpContext {
  sizing: Sizing;
  wipeOnFree: boolean;
  wipeOnCreate: boolean;
  /** Metadata of a finished top: disk, guest, protect. */
  topMeta: LayerMeta;
  /** Policy recorded on new snapshots. */
  policy?: string;
  /** The disk is in a running VM's hands (the live engine): whether that VM writes to the top yet. */
  live?: { topHeld: boolean; qemu: string; pauses: boolean };
  /** The storage's mergeRate (bytes per second), carried by every merge step. */
  mergeRate?: number;
  /** The disk's Proxmox VE VM, whose qm (on `node`) takes, deletes and rolls back its snapshots. */
  proxmox?: { vmid: number; node: string };
}

/** What a storage's config adds to every operation's steps: wipes and the merge rate. */
export function storageFlags(
  storage: DesiredStorage | undefined,
): Pick<OpContext, 'wipeOnFree' | 'wipeOnCreate' | 'mergeRate'> {
  return {
    ...wipeFlags(storage),
    ...(storage?.mergeRate !== undefined ? { mergeRate: storage.mergeRate } : {}),
  };
}

export type OpResult = { ok: true; steps: Step[] } | { ok: false; reason: string };

export const ok = (steps: Step[]): OpResult => ({ ok: true, steps });
export const fail = (reason: string): OpResult => ({ ok: false, reason });

export function withIntent(meta: LayerMeta | undefined, intent: Intent | undefined, disk: string): LayerMeta {
  const m: LayerMeta = { ...(meta ?? { disk }) };
  if (intent) m.intent = intent;
  else delete m.intent;
  return m;
}

export function sameIntent(a: Intent | undefined, b: Intent): boolean {
  return a !== undefined && encodeIntent(a) === encodeIntent(b);
}

export function record(layer: SimLayer, intent: Intent, disk: string): Step[] {
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

export function remove(ref: LayerRef, ctx: OpContext): Step {
  return { kind: 'remove', layer: ref, wipe: ctx.wipeOnFree };
}

export function formatNewTop(
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
export function finishTop(ctx: OpContext, size: number): Step {
  return { kind: 'set_meta', layer: TOP, meta: { ...ctx.topMeta, size }, purpose: 'finish' };
}

export function sameBacking(a: LayerRef | null | undefined, b: LayerRef | null | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === null || b === null) return a === b;
  return sameRef(a, b);
}

/** The layer backed by `ref`, ignoring a child already renamed aside (it keeps its backing). */
export function liveChildOf(state: DiskState, ref: LayerRef): SimLayer | undefined {
  return Object.values(state.layers).find(
    (l) => l.ref.role !== 'trash' && l.backing && sameRef(l.backing, ref),
  );
}

export function isComplete(layer: SimLayer): boolean {
  return layer.formatted && layer.meta?.incomplete !== true;
}

/**
 * Metadata preallocation of a grown range reads stale extents unless the image has
 * extended L2 (reference: proxmox-ve9-volume-chain §7), so images without it grow unallocated.
 */
export function preallocationFor(layer: SimLayer): 'metadata' | 'off' {
  return layer.extendedL2 ? 'metadata' : 'off';
}
