/** Disks on a storage that the config no longer declares: finish their work, keep or destroy them. */
import type { ObservedDisk } from '../model/observed.js';
import { diskAddress } from '../model/address.js';
import { TOP } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import { chainOf, layerAt } from './state.js';
import { interpretDisk } from './interpret.js';
import { blockedReason } from './blocked.js';
import { planResume } from './resume-change.js';
import { planRoundTrip } from './roundtrip.js';
import type { StoragePlanner } from './storage-planner.js';

export function planUndeclared(sp: StoragePlanner, disk: ObservedDisk): void {
  const view = planRoundTrip(sp, interpretDisk(disk, sp.sizing), undefined);
  const address = diskAddress(disk.name);
  if (!view.owned) return;
  if (blockedReason(sp, view, address)) return;
  const topMeta: LayerMeta = { ...(layerAt(view.state, TOP)?.meta ?? { disk: disk.name }) };
  delete topMeta.intent;
  delete topMeta.incomplete;
  const state = planResume(sp, view.state, topMeta, undefined);
  // A resumed destroy leaves no layer: nothing is left to keep or to destroy.
  if (!state || !sp.allowed.undeclared || Object.keys(state.layers).length === 0) return;
  if (!sp.req.allowDestroy) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `${address} exists on ${sp.storage.name} but is no longer declared; it is kept (destroying it needs --allow-destroy)`,
      address,
    });
    return;
  }
  if (Object.values(state.layers).some((l) => l.meta?.protect)) {
    sp.diagnostics.push({
      severity: 'error',
      summary: `${address} cannot be destroyed: it is protected (protect: true)`,
      detail: 'Declare it again with protect: false, apply, then remove it to destroy it.',
      address,
    });
    return;
  }
  const layers = chainOf(state)?.length ?? Object.keys(state.layers).length;
  sp.plan(state, { op: 'destroy' }, { before: { layers } }, sp.ctx(disk.name, topMeta));
}
