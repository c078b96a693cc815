/** One storage's plan: its warnings, then its groups in order, then the disks nobody declares. */
import type { ObservedDisk } from '../model/observed.js';
import type { Diagnostic } from '../model/plan.js';
import { diskAddress } from '../model/address.js';
import { draftChange } from './change.js';
import { groupsOf, planGroup } from './group.js';
import { planRollback } from './rollback-change.js';
import { planUndeclared } from './undeclared.js';
import type { StoragePlanner } from './storage-planner.js';
import { disksOn } from '../model/on-storage.js';

export function planStorage(sp: StoragePlanner): void {
  const { req, storage, observed } = sp;
  if (!observed.exists && storage.kind === 'lvm') {
    sp.diagnostics.push({
      severity: 'error',
      summary: `volume group ${storage.name} does not exist${storage.host ? ` on host ${storage.host}` : ''}`,
      detail:
        storage.pvs.length > 0
          ? undefined
          : 'Create it, or declare pvs: so lvchain creates it on blank devices.',
    });
    return;
  }
  const holder = observed.lockHeldBy;
  if (holder && (holder === 'unknown' || !(req.ownLockIds ?? []).includes(holder.id))) {
    sp.diagnostics.push({
      severity: 'warning',
      summary: `an lvchain run is changing ${storage.name} right now${holder === 'unknown' ? '' : `: ${holder.operation} by ${holder.who} since ${holder.created} (lock ${holder.id})`}`,
      detail: 'This plan reflects the storage as it was observed; plan again when that run has finished.',
    });
  }
  if (req.mode === 'rollback') {
    if (req.rollback) planRollback(sp, req.rollback);
    return;
  }
  if (observed.kind === 'lvm' && observed.notMembers) {
    sp.diagnostics.push(notMembersError(storage.name, observed.notMembers));
    return;
  }
  if (observed.foreign.length > 0 && sp.allowed.undeclared) {
    const names = observed.foreign.map((f) => f.name);
    sp.diagnostics.push({
      severity: 'info',
      summary: `${names.length} object(s) on ${storage.name} are not lvchain's and are left alone`,
      detail: names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : ''),
    });
  }
  const declared = disksOn(req.desired, storage.name);
  for (const group of groupsOf(sp, declared)) planGroup(sp, group);
  noteUnverified(sp);
  const declaredNames = new Set(declared.map((d) => d.name));
  for (const name of Object.keys(observed.disks).sort()) {
    if (!declaredNames.has(name) && !req.desired.disks[name])
      planUndeclared(sp, observed.disks[name] as ObservedDisk);
  }
}

/** Say which changed chains the plan could not verify (DESIGN §5: headers are read only where needed). */
function noteUnverified(sp: StoragePlanner): void {
  const changed = [...new Set(sp.changes.map((c) => c.disk))];
  const inactive: string[] = [];
  let fromTags = 0;
  for (const name of changed) {
    const layers = sp.observed.disks[name]?.layers ?? [];
    if (layers.some((l) => l.lv?.active === false)) inactive.push(name);
    else if (layers.some((l) => l.header.state === 'not-read')) fromTags++;
  }
  for (const name of inactive) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `the chain is inactive and was not verified; it was planned from LV names and tags`,
      detail:
        'Apply activates it, reads and checks every header before changing anything, and deactivates it again afterwards.',
      address: diskAddress(name),
    });
  }
  if (fromTags > 0) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `${fromTags} disk(s) on ${sp.storage.name} were planned from LV names and tags; apply reads and checks their headers before acting`,
    });
  }
}

/**
 * Devices in `pvs:` that an existing VG does not hold. Planning on as if they were there would
 * promise space the VG does not have, and ignoring them says "No changes" to a config that asks
 * for one, so the storage is refused until vgextend is supported.
 */
function notMembersError(vg: string, devices: readonly { path: string; vg?: string }[]): Diagnostic {
  const blank = devices.filter((d) => d.vg === undefined).map((d) => d.path);
  const taken = devices.filter((d) => d.vg !== undefined).map((d) => `${d.path} is a PV of ${d.vg}`);
  return {
    severity: 'error',
    summary: `volume group ${vg} does not hold ${devices.map((d) => d.path).join(', ')} from pvs:; adding a device to an existing VG (vgextend) is not supported yet`,
    detail: [
      ...taken.map((t) => `${t}.`),
      ...(blank.length > 0
        ? [`To add ${blank.join(', ')}, run "vgextend ${vg} ${blank.join(' ')}" on the host yourself.`]
        : []),
      'Otherwise remove the device from pvs:. Nothing was planned on this storage.',
    ].join(' '),
  };
}

/** A VG declared with `pvs:` on blank devices: created first, before anything on it. */
export function planVgCreation(sp: StoragePlanner, devices: string[]): void {
  const name = sp.storage.name;
  sp.changes.push({
    ...draftChange({ op: 'create_vg', devices }, name, {
      topMeta: { disk: '' },
      after: { size: sp.observed.size },
    }),
    storage: name,
    disk: '',
    expectedShape: [],
    steps: [{ kind: 'create_vg', devices }],
  });
}
