/**
 * A disk as the planner reasons about it, and the transition function of the storage
 * operations. The planner simulates every step with `applyStep`, so the state a change
 * expects is exactly the state the previous change leaves behind.
 */
import type { LayerRef } from '../model/layer.js';
import { TOP, refKey, sameRef, snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Extents } from '../model/extents.js';
import type { Step } from '../model/plan.js';
import type { Intent } from '../model/intent.js';
import { afterCommit, afterStream, NO_EXTENTS, type StreamWindow } from '../model/extents.js';

export interface SimLayer {
  ref: LayerRef;
  /** The observed layer this one is, whatever its name now; undefined for a layer the plan allocates. */
  origin?: string;
  meta?: LayerMeta;
  /** False for an allocated layer whose qcow2 header is not (completely) written. */
  formatted: boolean;
  virtualSize?: number;
  /** null: no backing file. undefined: not known (header not read). */
  backing?: LayerRef | null;
  /** True when `backing` was inferred from names and tags, not read from a header. */
  backingInferred?: boolean;
  extendedL2: boolean;
  /** LV size; undefined on directories. */
  capacity?: number;
  /** Space occupied on the storage. */
  bytes: number;
  extents?: Extents;
}

export interface DiskState {
  disk: string;
  layers: Readonly<Record<string, SimLayer>>;
}

/** Per-storage sizing used when simulating allocations. */
export interface Sizing {
  /** LV size needed for a qcow2 of this virtual size; undefined on directories. */
  capacityFor?: (virtualSize: number) => number;
  /** Bytes a freshly formatted image of this size occupies (metadata preallocation). */
  formattedBytes: (virtualSize: number) => number;
  /** The most an image of this size can ever occupy (`qemu-img measure` fully-allocated). */
  fullyAllocated: (virtualSize: number) => number;
  /** The windows an offline stream copies in (model/extents.ts); absent where it copies exactly. */
  streamWindowBytes?: number;
}

/** The stream windows of a child of this virtual size, on this storage. */
export function streamWindowOf(
  sizing: Pick<Sizing, 'streamWindowBytes'>,
  virtualSize: number | undefined,
): StreamWindow | undefined {
  return sizing.streamWindowBytes !== undefined && virtualSize !== undefined
    ? { bytes: sizing.streamWindowBytes, virtualSize }
    : undefined;
}

export function layerAt(state: DiskState, ref: LayerRef): SimLayer | undefined {
  return state.layers[refKey(ref)];
}

export function hasLayer(state: DiskState, ref: LayerRef): boolean {
  return layerAt(state, ref) !== undefined;
}

function withLayer(state: DiskState, layer: SimLayer): DiskState {
  return { ...state, layers: { ...state.layers, [refKey(layer.ref)]: layer } };
}

function withoutLayer(state: DiskState, ref: LayerRef): DiskState {
  const layers = { ...state.layers };
  delete layers[refKey(ref)];
  return { ...state, layers };
}

function requireLayer(state: DiskState, ref: LayerRef, step: Step): SimLayer {
  const layer = layerAt(state, ref);
  if (!layer) throw new Error(`step ${step.kind} on ${refKey(ref)}: no such layer in ${state.disk}`);
  return layer;
}

export function applyStep(state: DiskState, step: Step, sizing: Sizing): DiskState {
  switch (step.kind) {
    case 'set_meta': {
      const layer = requireLayer(state, step.layer, step);
      return withLayer(state, { ...layer, meta: step.meta });
    }
    case 'allocate': {
      const capacity = step.capacity ?? sizing.capacityFor?.(step.virtual_size);
      return withLayer(state, {
        ref: step.layer,
        origin: undefined,
        meta: step.meta,
        formatted: false,
        extendedL2: true,
        capacity,
        bytes: capacity ?? 0,
        backing: null,
      });
    }
    case 'wipe':
      requireLayer(state, step.layer, step);
      return state;
    case 'format': {
      const layer = requireLayer(state, step.layer, step);
      return withLayer(state, {
        ...layer,
        formatted: true,
        virtualSize: step.virtual_size,
        backing: step.backing ?? null,
        backingInferred: false,
        extendedL2: true,
        bytes: layer.capacity ?? sizing.formattedBytes(step.virtual_size),
        extents: NO_EXTENTS,
      });
    }
    case 'extend': {
      const layer = requireLayer(state, step.layer, step);
      const capacity = sizing.capacityFor?.(step.virtual_size);
      if (capacity === undefined || layer.capacity === undefined) return state;
      const grown = Math.max(layer.capacity, capacity);
      return withLayer(state, { ...layer, capacity: grown, bytes: grown });
    }
    case 'resize': {
      const layer = requireLayer(state, step.layer, step);
      const growth =
        layer.capacity === undefined && layer.virtualSize !== undefined
          ? Math.max(0, sizing.formattedBytes(step.virtual_size) - sizing.formattedBytes(layer.virtualSize))
          : 0;
      return withLayer(state, { ...layer, virtualSize: step.virtual_size, bytes: layer.bytes + growth });
    }
    case 'rename': {
      const layer = requireLayer(state, step.from, step);
      if (hasLayer(state, step.to)) throw new Error(`rename onto existing layer ${refKey(step.to)}`);
      return withLayer(withoutLayer(state, step.from), { ...layer, ref: step.to });
    }
    case 'commit': {
      const child = requireLayer(state, step.layer, step);
      const base = requireLayer(state, step.into, step);
      const extents = base.extents && child.extents ? afterCommit(base.extents, child.extents) : undefined;
      const bytes = base.capacity === undefined ? base.bytes + step.bytes : base.bytes;
      return withLayer(state, { ...base, extents, bytes });
    }
    case 'stream': {
      const child = requireLayer(state, step.layer, step);
      const from = requireLayer(state, step.from, step);
      const window = streamWindowOf(sizing, child.virtualSize);
      const extents =
        from.extents && child.extents ? afterStream(from.extents, child.extents, window) : undefined;
      const bytes = child.capacity === undefined ? child.bytes + step.bytes : child.bytes;
      return withLayer(state, { ...child, backing: step.onto, backingInferred: false, extents, bytes });
    }
    case 'remove':
      requireLayer(state, step.layer, step);
      return withoutLayer(state, step.layer);
    case 'create_vg':
      return state;
    case 'switch':
      // The VM's graph changes, not the storage.
      requireLayer(state, step.layer, step);
      requireLayer(state, step.backing, step);
      return state;
    case 'reattach':
      requireLayer(state, step.layer, step);
      return state;
    case 'qm':
      return afterQm(state, step, sizing);
  }
}

/**
 * What Proxmox's own steps leave (reference §4.1, §5.1, §6): a layer it renames keeps its tags,
 * and a top it creates has none.
 */
function afterQm(state: DiskState, step: Extract<Step, { kind: 'qm' }>, sizing: Sizing): DiskState {
  const S = snapRef(step.qm.snap);
  const snap = step.qm.action === 'snapshot' ? requireLayer(state, TOP, step) : requireLayer(state, S, step);
  const newTop = (s: DiskState): DiskState => {
    const capacity = sizing.capacityFor?.(snap.virtualSize ?? 0);
    return withLayer(s, {
      ref: TOP,
      formatted: true,
      virtualSize: snap.virtualSize,
      backing: S,
      backingInferred: false,
      extendedL2: true,
      capacity,
      bytes: capacity ?? sizing.formattedBytes(snap.virtualSize ?? 0),
      extents: NO_EXTENTS,
    });
  };
  switch (step.qm.action) {
    case 'snapshot':
      if (hasLayer(state, S)) throw new Error(`qm snapshot onto existing layer ${refKey(S)}`);
      return newTop(withLayer(withoutLayer(state, TOP), { ...snap, ref: S }));
    case 'rollback':
      return newTop(withoutLayer(state, TOP));
    case 'delsnapshot': {
      const child = childOf(state, S);
      if (!child) throw new Error(`qm delsnapshot ${step.qm.snap}: no child in ${state.disk}`);
      if (step.qm.direction === 'stream') {
        const window = streamWindowOf(sizing, child.virtualSize);
        const extents =
          snap.extents && child.extents ? afterStream(snap.extents, child.extents, window) : undefined;
        const bytes = child.capacity === undefined ? child.bytes + step.qm.bytes : child.bytes;
        return withLayer(withoutLayer(state, S), { ...child, backing: snap.backing, extents, bytes });
      }
      const extents = snap.extents && child.extents ? afterCommit(snap.extents, child.extents) : undefined;
      const bytes = snap.capacity === undefined ? snap.bytes + step.qm.bytes : snap.bytes;
      return withLayer(withoutLayer(withoutLayer(state, S), child.ref), {
        ...snap,
        ref: child.ref,
        virtualSize: Math.max(snap.virtualSize ?? 0, child.virtualSize ?? 0) || undefined,
        extents,
        bytes,
      });
    }
  }
}

export function applySteps(state: DiskState, steps: readonly Step[], sizing: Sizing): DiskState {
  return steps.reduce((s, step) => applyStep(s, step, sizing), state);
}

/**
 * Record on each step what only the simulation knows: on a metadata step what it replaces (a
 * backend that stores metadata as LV tags changes them by difference, and the plan shows exact
 * commands); on a wipe the bytes it zeroes, the LV's size at that point.
 */
export function withSimulatedFigures(state: DiskState, steps: readonly Step[], sizing: Sizing): Step[] {
  let cur = state;
  return steps.map((step) => {
    const out = simulatedFigures(cur, step);
    cur = applyStep(cur, step, sizing);
    return out;
  });
}

function simulatedFigures(state: DiskState, step: Step): Step {
  if (step.kind === 'set_meta') return { ...step, from: layerAt(state, step.layer)?.meta ?? null };
  if (step.kind === 'wipe' || (step.kind === 'remove' && step.wipe)) {
    const capacity = layerAt(state, step.layer)?.capacity;
    return capacity === undefined ? step : { ...step, bytes: capacity };
  }
  return step;
}

/** The layer whose backing is `ref`, if any. */
export function childOf(state: DiskState, ref: LayerRef): SimLayer | undefined {
  return Object.values(state.layers).find((l) => l.backing && sameRef(l.backing, ref));
}

/** The intent recorded on any layer of the disk, with the layer holding it, in key order. */
export function findIntents(state: DiskState): { layer: SimLayer; intent: Intent }[] {
  const out: { layer: SimLayer; intent: Intent }[] = [];
  for (const layer of Object.values(state.layers))
    if (layer.meta?.intent) out.push({ layer, intent: layer.meta.intent });
  if (out.length > 1) out.sort((a, b) => refKey(a.layer.ref).localeCompare(refKey(b.layer.ref)));
  return out;
}

/**
 * The chain from base to top, following backing links down from the top.
 * Undefined when the top is missing or a link does not resolve.
 */
export function chainOf(state: DiskState): SimLayer[] | undefined {
  const top = state.layers['top'];
  if (!top) return undefined;
  const chain: SimLayer[] = [top];
  // A chain longer than the number of layers loops.
  const limit = Object.keys(state.layers).length;
  let cur = top;
  while (cur.backing) {
    const next = state.layers[refKey(cur.backing)];
    if (!next || chain.length >= limit) return undefined;
    chain.push(next);
    cur = next;
  }
  if (cur.backing === undefined) return undefined;
  return chain.reverse();
}

/** Snapshot layers of the chain, oldest first. */
export function snapshotsOf(chain: readonly SimLayer[]): SimLayer[] {
  return chain.filter((l) => l.ref.role === 'snapshot');
}

/**
 * The existing layers whose image or LV these steps change: what must not be in use while they
 * run. Metadata alone (LV tags, the sidecar) never disturbs a reader, and a layer the steps
 * allocate is new.
 */
export function layersChangedBy(steps: readonly Step[]): LayerRef[] {
  const refs: LayerRef[] = [];
  const fresh: LayerRef[] = [];
  const add = (r: LayerRef | null | undefined) => {
    if (r && !fresh.some((f) => sameRef(f, r)) && !refs.some((x) => sameRef(x, r))) refs.push(r);
  };
  for (const step of steps) {
    switch (step.kind) {
      // Proxmox judges what it may change while its VM runs.
      case 'qm':
      case 'set_meta':
      case 'create_vg':
        break;
      case 'allocate':
        if (!refs.some((x) => sameRef(x, step.layer))) fresh.push(step.layer);
        break;
      case 'rename':
        add(step.from);
        break;
      case 'commit':
        add(step.layer);
        add(step.into);
        break;
      case 'stream':
        add(step.layer);
        add(step.from);
        break;
      default:
        add(step.layer);
    }
  }
  return refs;
}
