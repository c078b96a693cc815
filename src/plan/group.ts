/**
 * Disks are planned in snapshot groups: a guest's disks together, or a disk alone. A group's
 * snapshots are taken under one name and one time, and deleted one name at a time.
 */
import type { DesiredDisk, DesiredPolicy } from '../model/desired.js';
import { snapshotGroupOf } from '../model/desired.js';
import { isoSeconds } from '../base/instants.js';
import type { StoragePlanner } from './storage-planner.js';
import { planDisks } from './disk-changes.js';
import { planSnapshots } from './snapshot-changes.js';
import { planDeletions } from './deletions.js';

export interface Group {
  id: string;
  guest?: string;
  disks: DesiredDisk[];
  pinned: string[];
  policy?: DesiredPolicy;
}

/** The groups of the declared disks, in a stable order. */
export function groupsOf(sp: StoragePlanner, declared: readonly DesiredDisk[]): Group[] {
  const { desired } = sp.req;
  const groups = new Map<string, Group>();
  for (const d of [...declared].sort((a, b) => a.name.localeCompare(b.name))) {
    const id = snapshotGroupOf(d);
    const pinned = d.guest !== undefined ? (desired.guests[d.guest]?.pinned ?? []) : d.pinned;
    const policy = d.policy !== undefined ? desired.policies[d.policy] : undefined;
    const g = groups.get(id) ?? {
      id,
      disks: [],
      pinned,
      ...(d.guest !== undefined ? { guest: d.guest } : {}),
      ...(policy ? { policy } : {}),
    };
    g.disks.push(d);
    groups.set(id, g);
  }
  return [...groups.keys()].sort().map((id) => groups.get(id) as Group);
}

/** Three phases: each disk's own changes, then the group's new snapshots, then its deletions. */
export function planGroup(sp: StoragePlanner, group: Group): void {
  const { states, blocked } = planDisks(sp, group);
  planSnapshots(sp, group, states, blocked, isoSeconds(sp.req.now));
  planDeletions(sp, group, states, blocked);
}
