/** Phase A of a group: each disk's interrupted work, creation, metadata and growth. */
import type { DesiredDisk } from '../model/desired.js';
import { diskAddress } from '../model/address.js';
import { exactSize } from '../base/units.js';
import { TOP } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { DiskState } from './state.js';
import { layerAt } from './state.js';
import type { OpContext } from './op-steps.js';
import { blockedReason } from './blocked.js';
import { planResume } from './resume-change.js';
import { planRoundTrip } from './roundtrip.js';
import type { StoragePlanner } from './storage-planner.js';
import type { Group } from './group.js';

/** The disks' states after their own changes, and the disks left alone. */
export function planDisks(
  sp: StoragePlanner,
  group: Group,
): { states: Map<string, DiskState>; blocked: string[] } {
  const policyName = group.policy?.name;
  const states = new Map<string, DiskState>();
  const blocked: string[] = [];
  for (const disk of group.disks) {
    const address = diskAddress(disk.name);
    const topMeta = topMetaOf(disk);
    const view = planRoundTrip(sp, sp.viewOf(disk.name), { disk, topMeta });
    if (blockedReason(sp, view, address)) {
      blocked.push(disk.name);
      continue;
    }
    let state: DiskState | undefined = planResume(sp, view.state, topMeta, policyName);
    if (!state) {
      blocked.push(disk.name);
      continue;
    }
    if (!layerAt(state, TOP) && !sp.allowed.shapeDisks) {
      // Only apply creates disks: the group waits, and the others go on.
      sp.diagnostics.push({
        severity: 'warning',
        code: 'disk_missing',
        summary: `${address} is declared but does not exist on ${sp.storage.name}; ${sp.req.mode} does not create disks: run "lvchain apply"`,
        address,
      });
      blocked.push(disk.name);
      continue;
    }
    if (sp.allowed.shapeDisks) state = shapeDisk(sp, disk, state, sp.ctx(disk.name, topMeta, policyName));
    if (state) states.set(disk.name, state);
    else blocked.push(disk.name);
  }
  return { states, blocked };
}

/** Create the disk, or bring its tags and size in line with the config (never shrinking it). */
function shapeDisk(
  sp: StoragePlanner,
  disk: DesiredDisk,
  state: DiskState,
  ctx: OpContext,
): DiskState | undefined {
  const top = layerAt(state, TOP);
  if (!top)
    return sp.plan(state, { op: 'create', size: disk.size }, { after: { protect: disk.protect } }, ctx);
  let cur: DiskState | undefined = state;
  if ((top.meta?.protect ?? false) !== disk.protect || (top.meta?.guest ?? undefined) !== disk.guest) {
    cur = sp.plan(
      cur,
      { op: 'set_protect', protect: disk.protect },
      {
        before: { protect: top.meta?.protect ?? false, guest: top.meta?.guest ?? null },
        after: { guest: disk.guest ?? null },
      },
      ctx,
    );
  }
  const current = cur ? layerAt(cur, TOP)?.virtualSize : undefined;
  if (cur && current !== undefined && disk.size < current) {
    sp.diagnostics.push({
      severity: 'error',
      code: 'shrink_refused',
      summary: `the declared size ${exactSize(disk.size)} is below the current size ${exactSize(current)}; shrinking is refused`,
      detail: `Declare at least ${exactSize(current)}: lvchain grows disks but never shrinks them.`,
      address: diskAddress(disk.name),
      figures: { declared_size: disk.size, current_size: current },
    });
  } else if (cur && current !== undefined && disk.size > current) {
    cur = sp.plan(cur, { op: 'grow', from: current, to: disk.size }, {}, ctx);
  }
  return cur;
}

/** The metadata a finished top of this disk carries. */
export function topMetaOf(disk: DesiredDisk): LayerMeta {
  const m: LayerMeta = { disk: disk.name };
  if (disk.guest !== undefined) m.guest = disk.guest;
  if (disk.protect) m.protect = true;
  return m;
}
