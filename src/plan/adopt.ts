/**
 * Adopting a chain another tool made (`lvchain import`), or re-deriving the metadata of a chain
 * Proxmox changed (plan): the metadata lvchain would have written, derived from what the names
 * and headers show. Pure; it is applied through apply, as metadata steps, and changes nothing else.
 */
import type { ObservedDisk, ObservedLayer } from '../model/observed.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DesiredDisk } from '../model/desired.js';
import { refKey, sameRef } from '../model/layer.js';
import type { Sizing } from './state.js';
import { chainOf } from './state.js';
import { interpretDisk } from './interpret.js';
import { isScheduledName } from '../base/names.js';

export interface AdoptOptions {
  guest?: string;
  protect: boolean;
  /** Snapshot names the config pins: adopted as pinned; the others as external (never deleted by lvchain). */
  pinned: readonly string[];
  /** The disk's retention policy: a scheduled (`auto-`) name whose record was lost is its again. */
  policy?: string;
  /** When a layer without a record of its own was frozen as a snapshot, by layer name. */
  frozenAt: (layerName: string) => Frozen | undefined;
}

/**
 * When a snapshot was taken and how that is known: lvchain's record, the VM config's
 * `snaptime`, or estimated from the creation of the layer above it or the file's last write.
 */
export interface Frozen {
  at: string;
  how: 'recorded' | 'snaptime' | 'child_created' | 'modified';
}

export function isEstimate(f: Frozen): boolean {
  return f.how === 'child_created' || f.how === 'modified';
}

export type AdoptResult =
  | { ok: true; steps: Step[]; snapshots: string[]; created: Record<string, Frozen> }
  | { ok: false; problems: string[] };

/**
 * Metadata that belongs to the layer it is on: a snapshot's names that snapshot, a top's names
 * none. Proxmox renames layers with their tags (the oldest snapshot merged and renamed to its
 * child's name, the top renamed to a new snapshot), so the name, not the tag, is the identity.
 */
export function ownMeta(layer: ObservedLayer): LayerMeta | undefined {
  const m = layer.meta;
  if (!m) return undefined;
  if (layer.ref.role === 'snapshot') return m.snap === layer.ref.snap ? m : undefined;
  return layer.ref.role === 'top' && m.snap === undefined ? m : undefined;
}

/**
 * The metadata the chain's layers should carry, derived from names and header links. Metadata
 * that belongs to its layer is kept as it is; the rest (none, or another layer's that Proxmox
 * renamed onto it) is derived afresh, never taking a time from another snapshot's record.
 */
export function adoptChain(disk: ObservedDisk, sizing: Sizing, opts: AdoptOptions): AdoptResult {
  if (disk.layers.length === 0) return { ok: false, problems: [`no layers of ${disk.name} were found`] };
  const unread = disk.layers.filter((l) => l.header.state !== 'read');
  if (unread.length > 0)
    return { ok: false, problems: unread.map((l) => `${l.name}: the header could not be read`) };
  if (disk.layers.some((l) => l.meta?.intent))
    return {
      ok: false,
      problems: ['an lvchain operation is in progress on this disk; run "lvchain apply" instead'],
    };
  // Judge the chain as if it were owned: every other rule (links, formats, sizes) applies.
  const asOwned: ObservedDisk = {
    ...disk,
    layers: disk.layers.map((l) => ({ ...l, meta: ownMeta(l) ?? { disk: disk.name } })),
  };
  const view = interpretDisk(asOwned, sizing);
  const problems = view.problems.map((p) => p.message);
  const chain = chainOf(view.state);
  if (!chain && problems.length === 0) problems.push('the layers do not form one chain');
  if (problems.length > 0 || !chain) return { ok: false, problems };
  const byKey = new Map(disk.layers.map((l) => [refKey(l.ref), l]));
  // A top's settings travel with its tags: onto a new snapshot when Proxmox renames the top.
  const topTags = disk.layers.find((l) => l.meta && l.meta.snap === undefined)?.meta;
  const steps: Step[] = [];
  const snapshots: string[] = [];
  const created: Record<string, Frozen> = {};
  for (const sim of chain) {
    const layer = byKey.get(refKey(sim.ref));
    if (!layer || layer.header.state !== 'read') continue;
    const size = layer.header.header.virtualSize;
    const own = ownMeta(layer);
    let meta: LayerMeta;
    if (sim.ref.role === 'snapshot') {
      const snap = sim.ref.snap;
      snapshots.push(snap);
      // A time lvchain recorded is the truth; storage times only approximate it.
      const frozen: Frozen | undefined =
        own?.created !== undefined ? { at: own.created, how: 'recorded' } : opts.frozenAt(layer.name);
      if (!frozen) return { ok: false, problems: [`${layer.name}: cannot tell when the snapshot was taken`] };
      created[snap] = frozen;
      if (own) continue;
      meta = { disk: disk.name, snap, created: frozen.at, ...kindOf(snap, opts), size };
    } else {
      if (own) continue;
      meta = { disk: disk.name, size };
      if (opts.protect || topTags?.protect) meta.protect = true;
    }
    const guest = opts.guest ?? topTags?.guest;
    if (guest !== undefined) meta.guest = guest;
    steps.push({ kind: 'set_meta', layer: sim.ref, meta, purpose: 'update', from: layer.meta ?? null });
  }
  return { ok: true, steps, snapshots, created };
}

/** Pinned if the config pins it; a lost record of lvchain's own schedule is its policy's again; else external. */
function kindOf(snap: string, opts: AdoptOptions): Pick<LayerMeta, 'kind' | 'policy'> {
  if (opts.pinned.includes(snap)) return { kind: 'pinned' };
  if (isScheduledName(snap) && opts.policy !== undefined) return { kind: 'auto', policy: opts.policy };
  return { kind: 'external' };
}

/**
 * The adoption of a disk as the config declares it (guest, protect, pins, policy). `import` and
 * the planner derive it, and apply derives it again from what it re-observes: the same answer,
 * unless the disk changed in between. `snaptimes` are the VM config's, by snapshot name.
 */
export function adoptDisk(
  disk: ObservedDisk,
  sizing: Sizing,
  declared: DesiredDisk | undefined,
  snaptimes: Readonly<Record<string, string>> = {},
): AdoptResult {
  return adoptChain(disk, sizing, {
    ...(declared?.guest !== undefined ? { guest: declared.guest } : {}),
    protect: declared?.protect ?? false,
    pinned: declared?.pinned ?? [],
    ...(declared?.policy !== undefined ? { policy: declared.policy } : {}),
    frozenAt: (name) => frozenAt(disk, name, snaptimes),
  });
}

/**
 * When a layer without lvchain's record became a snapshot. Proxmox records it as the VM
 * config's `snaptime`. Otherwise: Proxmox freezes a layer by creating its child, so on LVM the
 * child LV's creation time (lv_time) estimates it, unless a rollback recreated that child. A
 * file's birth time is lost by a copy and often not recorded at all, while nothing writes a file
 * once it is a backing file: its last modification is the best estimate.
 */
function frozenAt(
  disk: ObservedDisk,
  name: string,
  snaptimes: Readonly<Record<string, string>>,
): Frozen | undefined {
  const layer = disk.layers.find((l) => l.name === name);
  const snaptime = layer?.ref.role === 'snapshot' ? snaptimes[layer.ref.snap] : undefined;
  if (snaptime !== undefined) return { at: snaptime, how: 'snaptime' };
  if (layer?.modified !== undefined) return { at: layer.modified, how: 'modified' };
  const born = childOf(disk, name)?.born;
  return born !== undefined ? { at: born, how: 'child_created' } : undefined;
}

/** The layer whose backing is `name`'s layer: created when `name` was frozen as a snapshot. */
function childOf(disk: ObservedDisk, name: string) {
  const layer = disk.layers.find((l) => l.name === name);
  if (!layer) return undefined;
  return disk.layers.find(
    (l) =>
      l.header.state === 'read' &&
      l.header.backing.kind === 'layer' &&
      sameRef(l.header.backing.ref, layer.ref) &&
      refKey(l.ref) !== refKey(layer.ref),
  );
}
