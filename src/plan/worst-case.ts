/**
 * The most the disks declared on a storage can occupy (DESIGN §9): each keeps at most the
 * snapshots its policy and pins allow, plus its top, and every layer can grow to full size.
 * `plan` and `validate` both report it, from different sizings.
 */
import type { Desired, DesiredDisk } from '../model/desired.js';
import { worstCaseBytes } from './capacity.js';
import { worstCaseRetained } from '../policy/schedule.js';
import { disksOn } from '../model/on-storage.js';

/** Null when a policy keeps snapshots without bound. */
export function declaredWorstCase(
  desired: Desired,
  storage: string,
  layerBytes: (disk: DesiredDisk) => number,
): number | null {
  const disks = disksOn(desired, storage);
  return worstCaseBytes(
    disks.map((d) => ({ retained: retainedAtMost(desired, d), layerBytes: layerBytes(d) })),
  );
}

function retainedAtMost(desired: Desired, d: DesiredDisk): number | 'unbounded' {
  const policy = d.policy !== undefined ? desired.policies[d.policy] : undefined;
  const pinned = d.guest !== undefined ? (desired.guests[d.guest]?.pinned.length ?? 0) : d.pinned.length;
  if (policy?.schedule === undefined) return pinned;
  return worstCaseRetained(policy.retention, { cron: policy.schedule, timezone: policy.timezone }, pinned);
}
