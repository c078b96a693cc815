/**
 * Proxmox VE acting on a chain lvchain owns (DESIGN §13). Its commands carry lvchain's LV tags
 * with the layers they rename: deleting the oldest snapshot commits its child into it and
 * renames it to the child's name, so `snap_<disk>_s2` says `lvchain.snap=s1`; a `qm snapshot`
 * renames the top to a snapshot name with the top's tags; a rollback or snapshot leaves an
 * untagged top. Names and links are the truth for identity: the planner recognises these and
 * plans a re-derivation of the metadata (plan/adopt.ts) instead of leaving the disk alone.
 */
import type { DesiredDisk } from '../model/desired.js';
import type { ObservedDisk } from '../model/observed.js';
import type { RederiveOperation } from '../model/plan.js';
import type { ProblemCode } from '../model/codes.js';
import type { LayerMeta } from '../model/meta.js';
import { describeRef, refKey } from '../model/layer.js';
import { adoptDisk, isEstimate } from './adopt.js';
import { snaptimesOf } from './proxmox.js';
import { draftChange } from './change.js';
import type { DiskView } from './interpret.js';
import type { StoragePlanner } from './storage-planner.js';

/** What a Proxmox round trip alone makes interpretation report. */
const ROUND_TRIP: ReadonlySet<ProblemCode> = new Set(['meta_mismatch', 'mixed_ownership']);

/** What Proxmox did to the disk, as its names and tags show; empty when nothing points to it. */
export function proxmoxActions(disk: ObservedDisk): string[] {
  const found: string[] = [];
  const untagged: string[] = [];
  let renamedTop = false;
  for (const l of disk.layers) {
    const m = l.meta;
    if (!m) {
      if (l.ref.role === 'snapshot') untagged.push(`snapshot ${l.ref.snap}`);
      else if (l.ref.role === 'top') untagged.push('the top');
    } else if (l.ref.role === 'snapshot' && m.snap === undefined) {
      found.push(`Proxmox took snapshot ${l.ref.snap} (the top renamed)`);
      renamedTop = true;
    } else if (
      m.snap !== undefined &&
      l.ref.role !== 'trash' &&
      (l.ref.role === 'top' || m.snap !== l.ref.snap)
    ) {
      found.push(
        `Proxmox merged ${m.snap} into ${l.ref.role === 'snapshot' ? l.ref.snap : 'the top'} (renamed)`,
      );
    }
  }
  const top = disk.layers.find((l) => l.ref.role === 'top');
  if (top && !top.meta && !renamedTop) {
    const below =
      top.header.state === 'read' && top.header.backing.kind === 'layer' ? top.header.backing.ref : undefined;
    found.push(`Proxmox recreated the top${below ? ` on ${describeRef(below)} (a rollback)` : ''}`);
  }
  if (untagged.length > 0) found.push(`adopted the layers Proxmox created: ${untagged.join(', ')}`);
  return found;
}

/**
 * A disk Proxmox changed, with the re-derivation of its metadata planned: the view then holds
 * the state after it and no problems. Any other disk's view comes back as it was, so a disk
 * with problems of its own is still left alone.
 */
export function planRoundTrip(
  sp: StoragePlanner,
  view: DiskView,
  declared: { disk: DesiredDisk; topMeta: LayerMeta } | undefined,
): DiskView {
  const disk = sp.observed.disks[view.state.disk];
  if (!disk || !view.owned || view.problems.length === 0) return view;
  const lvchainBusy = disk.layers.some(
    (l) => (l.metaProblems?.length ?? 0) > 0 || l.meta?.intent || l.ref.role === 'trash',
  );
  // A disk another process holds is left alone, its tags included.
  if (lvchainBusy || (disk.unsafe?.length ?? 0) > 0 || disk.engine?.kind === 'refused') return view;
  const found = proxmoxActions(disk);
  if (found.length === 0) return view;
  // Links decide the chain: read the headers (active LVs only; plan activates nothing).
  if (disk.layers.some((l) => l.header.state === 'not-read')) {
    if (disk.layers.every((l) => l.lv?.active !== false)) sp.needHeaders.add(disk.name);
    return view;
  }
  if (!view.problems.every((p) => ROUND_TRIP.has(p.code))) return view;
  const result = adoptDisk(disk, sp.sizing, declared?.disk, snaptimesOf(disk, declared?.disk.proxmoxVm));
  if (!result.ok) return view;
  const estimated = Object.entries(result.created).flatMap(([snap, f]) =>
    isEstimate(f) ? [{ snap, at: f.at, from: f.how as 'child_created' | 'modified' }] : [],
  );
  const op: RederiveOperation = { op: 'rederive', found, estimated };
  const topStep = result.steps.find((s) => s.kind === 'set_meta' && s.layer.role === 'top');
  const topMeta = declared
    ? declared.topMeta
    : topStep?.kind === 'set_meta'
      ? topStep.meta
      : (view.state.layers[refKey({ role: 'top' })]?.meta ?? { disk: disk.name });
  const ctx = sp.ctx(disk.name, topMeta);
  const change = draftChange(op, disk.name, { topMeta: ctx.topMeta });
  const state = sp.add(view.state, change, { ok: true, steps: result.steps }, ctx);
  if (!state) return view;
  return { ...view, state, problems: [] };
}
