/** `lvchain rollback`: one disk back to one snapshot, refused unless it is safe and asked for. */
import { diskAddress } from '../model/address.js';
import { TOP, snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import { chainOf, findIntents, layerAt, snapshotsOf } from './state.js';
import { layersAbove } from './op-rollback.js';
import { blockedReason } from './blocked.js';
import { topMetaOf } from './disk-changes.js';
import type { StoragePlanner } from './storage-planner.js';

export function planRollback(
  sp: StoragePlanner,
  r: { disk: string; snap: string; discardNewer: boolean },
): void {
  const address = diskAddress(r.disk);
  const desired = sp.req.desired.disks[r.disk];
  const view = sp.viewOf(r.disk);
  const error = (summary: string, detail?: string): void => {
    sp.diagnostics.push({ severity: 'error', summary, address, ...(detail ? { detail } : {}) });
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
  if (newer.length > 0 && !r.discardNewer) {
    return error(
      `${r.snap} is not the newest snapshot of ${r.disk}; newer: ${newer.slice().reverse().join(', ')}`,
      'Rolling back drops them. Pass --discard-newer to drop them without merging (irreversible).',
    );
  }
  const topMeta: LayerMeta = desired
    ? topMetaOf(desired)
    : { ...(layerAt(view.state, TOP)?.meta ?? { disk: r.disk }) };
  delete topMeta.intent;
  sp.plan(
    view.state,
    { op: 'rollback', snap: r.snap, discard: newer },
    {},
    sp.ctx(r.disk, topMeta),
    desired?.size,
  );
}
