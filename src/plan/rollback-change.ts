/**
 * `lvchain rollback`: a disk, or every disk of a guest together, back to one snapshot; refused
 * unless it is safe and asked for. A guest's disks are checked all before any is planned, and
 * roll back as one group, so its snapshots stay whole sets.
 */
import { diskAddress, groupSnapshotId, guestAddress } from '../model/address.js';
import { TOP, snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import { formatBytes } from '../base/units.js';
import { chainOf, findIntents, layerAt, snapshotsOf } from './state.js';
import { layersAbove } from './op-rollback.js';
import { blockedReason } from './blocked.js';
import { topMetaOf } from './disk-changes.js';
import type { StoragePlanner } from './storage-planner.js';
import type { DiskView } from './interpret.js';

export interface RollbackRequest {
  disks: readonly string[];
  snap: string;
  discardNewer: boolean;
  /** Set when a whole guest rolls back: its disks form one group. */
  guest?: string;
}

interface Checked {
  disk: string;
  view: DiskView;
  newer: string[];
}

export function planRollback(sp: StoragePlanner, r: RollbackRequest): void {
  const here = r.disks.filter(
    (d) => (sp.req.desired.disks[d]?.storage ?? sp.storage.name) === sp.storage.name,
  );
  const checked = here.map((d) => check(sp, r, d));
  if (checked.some((c) => c === undefined)) return;
  const group = r.guest !== undefined && here.length > 1 ? groupSnapshotId(r.guest, r.snap) : undefined;
  for (const c of checked as Checked[]) {
    const desired = sp.req.desired.disks[c.disk];
    const topMeta: LayerMeta = desired
      ? topMetaOf(desired)
      : { ...(layerAt(c.view.state, TOP)?.meta ?? { disk: c.disk }) };
    delete topMeta.intent;
    const returnsTo = layerAt(c.view.state, snapRef(r.snap))?.virtualSize;
    const now = layerAt(c.view.state, TOP)?.virtualSize;
    if (returnsTo !== undefined && desired !== undefined && returnsTo < desired.size)
      sp.diagnostics.push({
        severity: 'warning',
        summary: `${c.disk} returns to ${formatBytes(returnsTo)}, the size it had at ${r.snap}, below the ${formatBytes(desired.size)} the config declares; the next apply grows it again`,
        address: diskAddress(c.disk),
      });
    sp.plan(
      c.view.state,
      { op: 'rollback', snap: r.snap, discard: c.newer },
      {
        ...(group !== undefined ? { group } : {}),
        ...(now !== undefined
          ? { before: { top: 'current data', size: now, newer_snapshots: c.newer } }
          : {}),
        ...(returnsTo !== undefined ? { after: { size: returnsTo } } : {}),
      },
      sp.ctx(c.disk, topMeta),
      desired?.size,
    );
  }
}

/** One disk's view when it can roll back to the snapshot; otherwise its error is reported. */
function check(sp: StoragePlanner, r: RollbackRequest, disk: string): Checked | undefined {
  const address = diskAddress(disk);
  const view = sp.viewOf(disk);
  const error = (summary: string, detail?: string): undefined => {
    const whole = r.guest !== undefined ? ` Nothing of ${guestAddress(r.guest)} is rolled back.` : '';
    sp.diagnostics.push({
      severity: 'error',
      summary,
      address,
      ...(detail || whole ? { detail: `${detail ?? ''}${whole}`.trim() } : {}),
    });
    return undefined;
  };
  if (view.state.layers['top'] === undefined && Object.keys(view.state.layers).length === 0)
    return error(`${address} does not exist on ${sp.storage.name}`);
  if (blockedReason(sp, view, address))
    return error(`${address} cannot be rolled back while it is left alone`);
  if (findIntents(view.state).length > 0)
    return error(`${address} has an interrupted operation`, 'Run "lvchain apply" to finish it first.');
  const S = snapRef(r.snap);
  if (!layerAt(view.state, S)) {
    const chain = chainOf(view.state);
    const names = chain ? snapshotsOf(chain).map((l) => (l.ref.role === 'snapshot' ? l.ref.snap : '')) : [];
    return error(
      `${address} has no snapshot ${r.snap}`,
      names.length > 0 ? `Its snapshots: ${names.join(', ')}.` : 'It has no snapshots.',
    );
  }
  const newer = layersAbove(view.state, S)
    .filter((l) => l.ref.role === 'snapshot')
    .map((l) => (l.ref.role === 'snapshot' ? l.ref.snap : ''));
  const guest = sp.req.desired.disks[disk]?.guest;
  const siblings = guest !== undefined ? (sp.req.desired.guests[guest]?.disks.length ?? 1) : 1;
  if (newer.length > 0 && r.guest === undefined && siblings > 1)
    return error(
      `${disk} is one of the ${siblings} disks of guest ${guest}, whose snapshots are taken together; dropping ${newer.join(', ')} from this disk alone would leave the others with snapshots it lacks`,
      `Roll back the whole guest: lvchain rollback ${guest} ${r.snap} --discard-newer`,
    );
  if (newer.length > 0 && !r.discardNewer) {
    return error(
      `${r.snap} is not the newest snapshot of ${disk}; newer: ${newer.slice().reverse().join(', ')}`,
      'Rolling back drops them. Pass --discard-newer to drop them without merging (irreversible).',
    );
  }
  return { disk, view, newer };
}
