/**
 * `lvchain check`: the health of every storage, snapshot group and disk (issue 4 §6, reference
 * retention-and-schedules §4.7). Pure like the planner: a function of the config, what was
 * observed and the instant, with every threshold in check/, so each rule is testable without a host.
 *
 * Each check yields one result with a Nagios status; `status.ts` says how they combine.
 *
 * The checks, and what each status means:
 * - storage   UNKNOWN: it could not be observed (host unreachable, command failed).
 *             CRITICAL: a volume group is absent and lvchain would not create it (no `pvs:`).
 *             WARNING: absent but lvchain creates it on apply (a VG with `pvs:`, a directory).
 * - space     WARNING: free space is below `reserve` (plans that consume space are refused).
 * - metadata  (LVM) WARNING: less than 20 % of the usable metadata area is left. LVM keeps room
 *             for two copies of the metadata, so about half the area is usable (DESIGN §9: a
 *             1 MiB area, about 520 KB usable); once it is full, no LV can be created or tagged.
 * - schedule  per group whose policy has a schedule; see `scheduleResult`.
 * - chain     per disk. CRITICAL: drift, i.e. any problem `interpretDisk` finds (lvchain leaves
 *             the disk alone until it is fixed). WARNING: declared but not created yet. OK
 *             otherwise; a chain whose headers were not read (inactive LVs: check never
 *             activates anything) is OK and reported as not verified.
 * - depth     per disk; see `depthStatus`.
 * - interrupted  per disk. WARNING: an operation was interrupted ("lvchain apply" finishes it).
 *             CRITICAL: it cannot be resumed from what is on the storage (the plan reports the
 *             same disk as drift). OK while an lvchain run holds the storage's lock: the
 *             operation is in progress, and a check must not flap during every merge.
 */
import type { DesiredStorage } from '../model/desired.js';
import { snapshotGroupOf } from '../model/desired.js';
import type { LayerMeta } from '../model/meta.js';
import { disksOn, wipeFlags } from '../model/on-storage.js';
import type { DiskView } from '../plan/interpret.js';
import { interpretDisk } from '../plan/interpret.js';
import type { OpContext } from '../plan/op-steps.js';
import { sizingFor } from '../plan/sizing.js';
import type { CheckResult, HealthInput, HealthReport, StorageObservation } from './report.js';
import { overallStatus } from './report.js';
import { runningOn, storageResults, unavailableResult } from './storage.js';
import { scheduleResults } from './schedule.js';
import { diskResults } from './disk.js';

export function assessHealth(input: HealthInput): HealthReport {
  const results: CheckResult[] = [];
  for (const name of Object.keys(input.desired.storages).sort()) {
    const storage = input.desired.storages[name] as DesiredStorage;
    results.push(...assessStorage(input, storage, input.storages[name]));
  }
  return { now: input.now, status: overallStatus(results), results };
}

function assessStorage(
  input: HealthInput,
  storage: DesiredStorage,
  obs: StorageObservation | undefined,
): CheckResult[] {
  if (!obs || !obs.ok || !obs.observed.exists) return [unavailableResult(storage, obs)];
  const name = storage.name;
  const observed = obs.observed;
  const declared = disksOn(input.desired, name).sort((a, b) => a.name.localeCompare(b.name));
  const busy = runningOn(observed);
  const results = storageResults(storage, observed, declared.length, busy);

  const sizing = sizingFor(observed);
  const views = new Map<string, DiskView>();
  const viewOf = (disk: string): DiskView => {
    let v = views.get(disk);
    if (!v) {
      v = interpretDisk(observed.disks[disk] ?? { name: disk, storage: name, layers: [] }, sizing);
      views.set(disk, v);
    }
    return v;
  };

  // Scheduled groups first, in address order, then every disk.
  results.push(...scheduleResults(input, name, declared, viewOf));
  // Whether an interrupted operation can be resumed does not depend on exact LV sizes, so
  // unmeasured sizes are estimated here rather than measured.
  const resumeSizing = sizingFor(observed, new Set());
  const resumeCtx = (topMeta: LayerMeta): OpContext => ({
    sizing: resumeSizing,
    ...wipeFlags(storage),
    topMeta,
  });
  for (const d of declared) {
    const policy = d.policy !== undefined ? input.desired.policies[d.policy] : undefined;
    const topMeta: LayerMeta = { disk: d.name, ...(d.guest !== undefined ? { guest: d.guest } : {}) };
    if (d.protect) topMeta.protect = true;
    results.push(
      ...diskResults(
        { storage: name, group: snapshotGroupOf(d), disk: d.name },
        observed.disks[d.name],
        viewOf(d.name),
        policy?.maxChainDepth ?? input.defaultMaxChainDepth,
        busy,
        resumeCtx(topMeta),
      ),
    );
  }
  // Disks lvchain owns that the config no longer declares: kept, so still checked.
  for (const disk of Object.keys(observed.disks).sort()) {
    if (input.desired.disks[disk]) continue;
    const view = viewOf(disk);
    if (!view.owned) continue;
    const top = view.state.layers['top']?.meta;
    const topMeta: LayerMeta = { ...(top ?? { disk }) };
    delete topMeta.intent;
    delete topMeta.incomplete;
    results.push(
      ...diskResults(
        { storage: name, disk },
        observed.disks[disk],
        view,
        input.defaultMaxChainDepth,
        busy,
        resumeCtx(topMeta),
      ),
    );
  }
  return results;
}
