/**
 * From an observed disk to the state the planner works on, plus the problems that make
 * lvchain refuse to touch it (DESIGN §9: broken chains, dirty or corrupt images, layers it
 * owns but cannot place, size mismatches).
 */
import type { LayerHeader, ObservedDisk, ObservedLayer } from '../model/observed.js';
import { layersHeldOpen } from '../model/observed.js';
import type { Step } from '../model/plan.js';
import type { ChainView, Problem } from '../model/chain-view.js';
import type { LayerRef } from '../model/layer.js';
import { describeRef, refKey, sameRef, snapRef } from '../model/layer.js';
import { encodeIntent } from '../model/intent.js';
import type { DiskState, SimLayer, Sizing } from './state.js';
import { chainOf, findIntents } from './state.js';

export interface DiskView extends ChainView {
  state: DiskState;
  owned: boolean;
  /** Layers held open by another process (a running VM): any change must wait. */
  inUse: string[];
}

/** One object shape for every layer: this runs for every layer of every disk in a plan. */
function toSimLayer(l: ObservedLayer): SimLayer {
  const h = l.header;
  const read = h.state === 'read';
  return {
    ref: l.ref,
    origin: l.name,
    meta: l.meta,
    formatted: read || l.meta?.incomplete !== true,
    virtualSize: read ? h.header.virtualSize : l.meta?.size,
    // Unread or unreadable headers leave the link unknown.
    backing: read
      ? h.backing.kind === 'layer'
        ? h.backing.ref
        : h.backing.kind === 'none'
          ? null
          : undefined
      : undefined,
    backingInferred: false,
    extendedL2: read ? h.header.extendedL2 : true,
    capacity: l.capacity,
    bytes: l.bytes,
    extents: l.extents,
  };
}

export function interpretDisk(disk: ObservedDisk, sizing: Sizing): DiskView {
  const problems: Problem[] = [];
  const layers: Record<string, SimLayer> = {};
  let ownedCount = 0;
  let verified = true;
  for (const l of disk.layers) {
    layers[refKey(l.ref)] = toSimLayer(l);
    if (l.meta !== undefined) ownedCount++;
    if (l.header.state === 'not-read') verified = false;
  }
  let state: DiskState = { disk: disk.name, layers };

  const owned = ownedCount > 0;
  // First, so that the plan's one-line reason names the file: with an unreadable sidecar the
  // ownership problems below would only be its consequence.
  const unsafe = disk.unsafe ?? [];
  problems.push(...unsafe);
  if (disk.layers.length === 0)
    return { state, chain: undefined, problems, verified: true, owned: false, inUse: [] };
  if (unsafe.length === 0 && !owned) {
    problems.push({
      code: 'not_owned',
      message: `found ${disk.layers.length} layer(s) without lvchain metadata; adopt the chain with "lvchain import"`,
    });
  } else if (unsafe.length === 0 && ownedCount < disk.layers.length) {
    const foreign = disk.layers.filter((l) => !l.meta).map((l) => l.name);
    problems.push({
      code: 'mixed_ownership',
      message: `layers without lvchain metadata are mixed into the chain: ${foreign.join(', ')}`,
    });
  }

  const intents = findIntents(state);
  const intentTexts = new Set(intents.map((i) => encodeIntent(i.intent)));
  if (intentTexts.size > 1) {
    problems.push({
      code: 'conflicting_intents',
      message: `layers record different interrupted operations: ${[...intentTexts].join(', ')}`,
    });
  }
  const interrupted = intents.length > 0;

  for (const name of disk.unplaced ?? []) {
    problems.push({
      code: 'unplaceable',
      message: `${name} is tagged for this disk but is not one of its layer names`,
    });
  }
  for (const l of disk.layers) {
    for (const m of l.metaProblems ?? [])
      problems.push({ code: 'meta_mismatch', message: `${l.name}: ${m}` });
    // A commit merge renames layers before it rewrites their metadata: a layer renamed aside
    // keeps the metadata of its old name, and the merged snapshot, under its child's name,
    // keeps its own (with the intent) until the merge's last metadata step.
    const named = l.ref.role === 'trash' ? l.ref.of : l.ref;
    const mergedSnapshot =
      l.meta?.intent?.op === 'delete' &&
      l.meta.intent.direction === 'commit' &&
      l.meta.intent.snap === l.meta.snap;
    if (
      l.meta?.snap !== undefined &&
      !mergedSnapshot &&
      (named.role !== 'snapshot' || named.snap !== l.meta.snap)
    ) {
      problems.push({ code: 'meta_mismatch', message: `${l.name} is tagged as snapshot ${l.meta.snap}` });
    }
    if (l.meta?.incomplete && !interrupted) {
      problems.push({
        code: 'incomplete_without_intent',
        message: `${l.name} is marked incomplete but no interrupted operation is recorded`,
      });
    }
    switch (l.header.state) {
      case 'unreadable':
        if (!l.meta?.incomplete)
          problems.push({ code: 'unreadable', message: `${l.name}: ${l.header.error}` });
        break;
      case 'read': {
        const h = l.header.header;
        if (h.format !== 'qcow2')
          problems.push({ code: 'not_qcow2', message: `${l.name} is ${h.format}, not qcow2` });
        if (h.corrupt) problems.push({ code: 'corrupt', message: `${l.name} is marked corrupt by qemu-img` });
        if (h.dirty)
          problems.push({ code: 'dirty', message: `${l.name} has the dirty flag set (unclean shutdown?)` });
        if (h.dataFile !== undefined)
          problems.push({
            code: 'data_file',
            message: `${l.name} keeps its data in the external data file "${h.dataFile}"; lvchain never merges, writes or removes such a layer`,
          });
        const unmanaged = unmanagedFeatures(h);
        if (unmanaged.length > 0)
          problems.push({
            code: 'unmanaged_feature',
            message: `${l.name} uses qcow2 features lvchain does not manage: ${unmanaged.join(', ')}`,
          });
        if (l.header.backing.kind === 'invalid') {
          problems.push({
            code: 'unexpected_backing',
            message: `${l.name} has backing file "${l.header.backing.name}": ${l.header.backing.problem}`,
          });
        }
        const capNeed = sizing.capacityFor?.(h.virtualSize);
        if (l.capacity !== undefined && capNeed !== undefined && l.capacity < capNeed && !l.meta?.intent) {
          problems.push({
            code: 'size_mismatch',
            message: `${l.name} is ${l.capacity} bytes, but a ${h.virtualSize}-byte qcow2 can need ${capNeed}`,
          });
        }
        break;
      }
      default:
        break;
    }
  }

  if (!verified) {
    const inferred = inferChain(state);
    if (inferred.problem) problems.push(inferred.problem);
    else state = inferred.state;
  }

  // During an interrupted operation the operation's own stage detection judges the layout.
  if (!interrupted && owned) {
    const chain = chainOf(state);
    const top = state.layers['top'];
    if (!top) {
      problems.push({ code: 'top_missing', message: `the top layer is missing` });
    } else if (!chain) {
      const broken = brokenLink(state);
      problems.push({ code: 'broken_backing', message: broken });
    } else {
      if (chain.length < Object.keys(state.layers).length) {
        const inChain = new Set(chain.map((l) => refKey(l.ref)));
        for (const l of Object.values(state.layers)) {
          if (l.ref.role === 'trash' || inChain.has(refKey(l.ref))) continue;
          problems.push({ code: 'unplaceable', message: `${describeRef(l.ref)} is not part of the chain` });
        }
      }
      for (let i = 1; i < chain.length; i++) {
        const parent = chain[i - 1] as SimLayer;
        const child = chain[i] as SimLayer;
        if (
          parent.virtualSize !== undefined &&
          child.virtualSize !== undefined &&
          child.virtualSize < parent.virtualSize
        ) {
          problems.push({
            code: 'size_mismatch',
            message: `${describeRef(child.ref)} (${child.virtualSize} bytes) is smaller than its backing ${describeRef(parent.ref)} (${parent.virtualSize} bytes)`,
          });
        }
      }
    }
  }

  return {
    state,
    chain: chainOf(state)?.map((l) => l.ref),
    problems,
    verified,
    owned,
    inUse: layersHeldOpen(disk),
  };
}

/**
 * Header features outside what lvchain and Proxmox create (compat 1.1, 16-bit refcounts, zlib;
 * any cluster size, with or without extended L2). Each one is refused for a reason of its own.
 */
function unmanagedFeatures(h: LayerHeader): string[] {
  const out: string[] = [];
  // Version 2 images cannot record zero clusters, so a merge would write zeros out as data.
  if (h.compat !== undefined && h.compat !== '1.1') out.push(`compat ${h.compat}`);
  // A merge interrupted under lazy refcounts leaves the image needing a repair.
  if (h.lazyRefcounts) out.push('lazy_refcounts');
  if (h.refcountBits !== undefined && h.refcountBits !== 16) out.push(`refcount_bits ${h.refcountBits}`);
  if (h.compressionType !== undefined && h.compressionType !== 'zlib')
    out.push(`compression_type ${h.compressionType}`);
  // lvchain has no key for it: every merge would fail half-way.
  if (h.encrypted) out.push('encryption');
  // Merges do not carry bitmaps: an incremental backup would silently miss the merged writes.
  if (h.bitmaps) out.push(`persistent bitmaps (${h.bitmaps.join(', ')})`);
  return out;
}

/**
 * The existing layers whose image these steps merge into, merge away or remove: what an image
 * using one of them as its backing would lose. A snapshot's rename of the top is not among
 * them: the top's name then shows the same data through the new top.
 */
export function layersMergedOrRemovedBy(steps: readonly Step[]): LayerRef[] {
  const refs: LayerRef[] = [];
  for (const step of steps) {
    if (step.kind === 'commit') refs.push(step.layer, step.into);
    else if (step.kind === 'stream') refs.push(step.from);
    else if (step.kind === 'remove') refs.push(step.layer);
  }
  return refs;
}

/**
 * Why these steps must not run: they merge into, merge away or remove a layer that an image
 * outside the disk's chain uses as its backing file. Apply asks again after it re-observes.
 */
export function dependantConflict(
  state: DiskState,
  steps: readonly Step[],
  observed: ObservedDisk | undefined,
): string | undefined {
  for (const ref of layersMergedOrRemovedBy(steps)) {
    const origin = state.layers[refKey(ref)]?.origin;
    const layer = origin !== undefined ? observed?.layers.find((l) => l.name === origin) : undefined;
    const users = layer?.dependants ?? [];
    if (layer && users.length > 0)
      return `${layer.name} is the backing file of ${users.join(', ')}, which lvchain does not manage; merging or removing it would break ${users.length > 1 ? 'them' : 'it'}`;
  }
  return undefined;
}

function brokenLink(state: DiskState): string {
  let cur = state.layers['top'];
  const seen = new Set<string>();
  while (cur) {
    if (cur.backing === undefined) return `the backing of ${describeRef(cur.ref)} could not be resolved`;
    if (cur.backing === null) break;
    const key = refKey(cur.backing);
    if (seen.has(key)) return `the chain loops at ${describeRef(cur.backing)}`;
    seen.add(key);
    const next = state.layers[key];
    if (!next)
      return `${describeRef(cur.ref)} is backed by ${describeRef(cur.backing)}, which does not exist`;
    cur = next;
  }
  return 'the chain is broken';
}

/**
 * Without headers (inactive LVs), order snapshot layers by their creation tags, oldest
 * first, with the top last. Apply verifies this against the real headers before acting.
 */
function inferChain(state: DiskState): { state: DiskState; problem?: undefined } | { problem: Problem } {
  const snaps = Object.values(state.layers).filter((l) => l.ref.role === 'snapshot');
  // A snapshot being taken has its time only in the intent until its last step.
  const createdOf = (l: SimLayer): string | undefined =>
    l.meta?.created ?? (l.meta?.intent?.op === 'snapshot' ? l.meta.intent.created : undefined);
  const missing = snaps.filter((l) => !createdOf(l));
  if (missing.length > 0) {
    return {
      problem: {
        code: 'unverifiable',
        message: `the chain's headers were not read and ${missing.map((l) => describeRef(l.ref)).join(', ')} carry no creation time; activate the chain, or run "lvchain import"`,
      },
    };
  }
  const ordered = [...snaps].sort(
    (a, b) =>
      (createdOf(a) as string).localeCompare(createdOf(b) as string) ||
      refKey(a.ref).localeCompare(refKey(b.ref)),
  );
  const layers = { ...state.layers };
  let below: SimLayer | undefined;
  for (const l of ordered) {
    layers[refKey(l.ref)] = { ...l, backing: below ? below.ref : null, backingInferred: true };
    below = l;
  }
  const top = layers['top'];
  if (top) layers['top'] = { ...top, backing: below ? below.ref : null, backingInferred: true };
  return { state: { ...state, layers } };
}

/** Is `ref` a snapshot of this chain? */
export function hasSnapshot(state: DiskState, snap: string): boolean {
  return Object.values(state.layers).some((l) => sameRef(l.ref, snapRef(snap)));
}
