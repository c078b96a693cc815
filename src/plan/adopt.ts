/**
 * Adopting a chain another tool made (`lvchain import`): the metadata lvchain would have
 * written, derived from what the headers and names show. Pure; `import` applies it through
 * apply, as metadata steps, and changes nothing else.
 */
import type { ObservedDisk } from '../model/observed.js';
import type { LayerMeta } from '../model/meta.js';
import type { Step } from '../model/plan.js';
import type { DesiredDisk } from '../model/desired.js';
import { refKey, sameRef } from '../model/layer.js';
import type { Sizing } from './state.js';
import { chainOf } from './state.js';
import { interpretDisk } from './interpret.js';

export interface AdoptOptions {
  guest?: string;
  protect: boolean;
  /** Snapshot names the config pins: adopted as pinned; the others as external (never deleted by lvchain). */
  pinned: readonly string[];
  /** When each layer was frozen as a snapshot, by layer name, and whether that is an estimate. */
  frozenAt: (layerName: string) => Frozen | undefined;
}

export interface Frozen {
  at: string;
  how: 'recorded' | 'exact' | 'estimated';
}

export type AdoptResult =
  | { ok: true; steps: Step[]; snapshots: string[]; created: Record<string, Frozen> }
  | { ok: false; problems: string[] };

export function adoptChain(disk: ObservedDisk, sizing: Sizing, opts: AdoptOptions): AdoptResult {
  if (disk.layers.length === 0) return { ok: false, problems: [`no layers of ${disk.name} were found`] };
  const unread = disk.layers.filter((l) => l.header.state !== 'read');
  if (unread.length > 0)
    return { ok: false, problems: unread.map((l) => `${l.name}: the header could not be read`) };
  // Judge the chain as if it were owned: every other rule (links, formats, sizes) applies.
  const asOwned: ObservedDisk = {
    ...disk,
    layers: disk.layers.map((l) => ({ ...l, meta: l.meta ?? { disk: disk.name } })),
  };
  const view = interpretDisk(asOwned, sizing);
  const problems = view.problems.filter((p) => p.code !== 'mixed_ownership').map((p) => p.message);
  if (disk.layers.some((l) => l.meta?.intent))
    problems.push('an lvchain operation is in progress on this disk; run "lvchain apply" instead');
  const chain = chainOf(view.state);
  if (!chain && problems.length === 0) problems.push('the layers do not form one chain');
  if (problems.length > 0 || !chain) return { ok: false, problems };
  const byKey = new Map(disk.layers.map((l) => [refKey(l.ref), l]));
  const steps: Step[] = [];
  const snapshots: string[] = [];
  const created: Record<string, Frozen> = {};
  for (const sim of chain) {
    const layer = byKey.get(refKey(sim.ref));
    if (!layer || layer.header.state !== 'read') continue;
    const size = layer.header.header.virtualSize;
    let meta: LayerMeta;
    if (sim.ref.role === 'snapshot') {
      const snap = sim.ref.snap;
      snapshots.push(snap);
      // A time lvchain recorded is the truth; storage times only approximate it.
      const frozen: Frozen | undefined =
        layer.meta?.created !== undefined
          ? { at: layer.meta.created, how: 'recorded' }
          : opts.frozenAt(layer.name);
      if (!frozen) return { ok: false, problems: [`${layer.name}: cannot tell when the snapshot was taken`] };
      created[snap] = frozen;
      meta = {
        disk: disk.name,
        snap,
        created: frozen.at,
        kind: opts.pinned.includes(snap) ? 'pinned' : 'external',
        size,
      };
    } else {
      meta = { disk: disk.name, size };
      if (opts.protect) meta.protect = true;
    }
    if (opts.guest !== undefined) meta.guest = opts.guest;
    if (layer.meta && JSON.stringify(layer.meta) === JSON.stringify(meta)) continue;
    steps.push({ kind: 'set_meta', layer: sim.ref, meta, purpose: 'update', from: layer.meta ?? null });
  }
  return { ok: true, steps, snapshots, created };
}

/**
 * The adoption of a disk as the config declares it (guest, protect, pins). `import` plans with
 * it, and apply derives it again from what it re-observes: the same answer, unless the disk
 * changed in between.
 */
export function adoptDisk(
  disk: ObservedDisk,
  sizing: Sizing,
  declared: DesiredDisk | undefined,
): AdoptResult {
  return adoptChain(disk, sizing, {
    ...(declared?.guest !== undefined ? { guest: declared.guest } : {}),
    protect: declared?.protect ?? false,
    pinned: declared?.pinned ?? [],
    frozenAt: (name) => frozenAt(disk, name),
  });
}

/**
 * When a layer became a snapshot. Proxmox freezes a layer by creating its child, so on LVM the
 * child LV's creation time (lv_time) is that moment. A file's birth time is lost by a copy
 * and often not recorded at all, while nothing writes a file once it is a backing file: its
 * last modification is the best estimate.
 */
function frozenAt(disk: ObservedDisk, name: string): Frozen | undefined {
  const modified = disk.layers.find((l) => l.name === name)?.modified;
  if (modified !== undefined) return { at: modified, how: 'estimated' };
  const born = childOf(disk, name)?.born;
  return born !== undefined ? { at: born, how: 'exact' } : undefined;
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
