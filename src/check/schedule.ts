/** The `schedule` check: is each scheduled snapshot group's newest auto snapshot fresh enough? */
import type { DesiredDisk, DesiredPolicy } from '../model/desired.js';
import { snapshotGroupOf } from '../model/desired.js';
import { isoSeconds } from '../base/instants.js';
import { formatDurationRounded } from '../base/durations.js';
import { nextSlot, nominalPeriodMs } from '../policy/schedule.js';
import { CLOCK_SKEW_TOLERANCE_MS } from '../policy/retention.js';
import type { DiskView } from '../plan/interpret.js';
import { findIntents } from '../plan/state.js';
import type { HealthStatus } from './status.js';
import type { CheckResult, CheckValue, HealthInput } from './report.js';
import { chainExists } from './disk.js';

/** One result per snapshot group on the storage whose policy has a schedule, in address order. */
export function scheduleResults(
  input: HealthInput,
  storage: string,
  declared: readonly DesiredDisk[],
  viewOf: (disk: string) => DiskView,
): CheckResult[] {
  const results: CheckResult[] = [];
  const groups = new Map<string, DesiredDisk[]>();
  for (const d of declared) {
    const id = snapshotGroupOf(d);
    groups.set(id, [...(groups.get(id) ?? []), d]);
  }
  for (const id of [...groups.keys()].sort()) {
    const disks = groups.get(id) as DesiredDisk[];
    const policyName = disks[0]?.policy;
    const policy = policyName !== undefined ? input.desired.policies[policyName] : undefined;
    if (policy?.schedule !== undefined) {
      const existing = disks.map((d) => viewOf(d.name)).filter((v) => chainExists(v));
      results.push(scheduleResult(storage, id, policy, policy.schedule, existing, input.now));
    }
  }
  return results;
}

interface AutoSnapshot {
  name: string;
  created: number;
}

/**
 * The group's complete auto snapshots of this policy: taken by lvchain's schedule (kind `auto`,
 * this policy), finished (not incomplete, no snapshot intent pending on it), and present on every
 * existing disk of the group, as the planner's schedule requires.
 */
function autoSnapshots(views: readonly DiskView[], policy: string): AutoSnapshot[] {
  const seen = new Map<string, { created: number; count: number }>();
  for (const view of views) {
    const pending = new Set(
      findIntents(view.state).flatMap((i) => (i.intent.op === 'snapshot' ? [i.intent.snap] : [])),
    );
    for (const l of Object.values(view.state.layers)) {
      const m = l.meta;
      if (l.ref.role !== 'snapshot' || m?.kind !== 'auto' || m.policy !== policy || !m.created) continue;
      if (m.incomplete || pending.has(l.ref.snap)) continue;
      const created = Date.parse(m.created);
      if (Number.isNaN(created)) continue;
      const prev = seen.get(l.ref.snap);
      seen.set(l.ref.snap, {
        created: Math.max(created, prev?.created ?? created),
        count: (prev?.count ?? 0) + 1,
      });
    }
  }
  return [...seen.entries()]
    .filter(([, v]) => v.count === views.length)
    .map(([name, v]) => ({ name, created: v.created }));
}

/**
 * Is the group's newest snapshot fresh enough? With P the schedule's nominal period (the median
 * gap between fires) and the newest complete auto snapshot of the policy taken at `created`:
 *
 *   age     = now − created
 *   overdue = now − (the first fire after `created`), i.e. how long the schedule has been due
 *
 *   CRITICAL  when age > crit P and overdue > (crit − 1) P
 *   WARNING   when age > warn P and overdue > (warn − 1) P
 *
 * with the policy's `check.warn` and `check.crit` (1.5 and 3 by default). For a regular schedule
 * whose snapshots are taken at their slots, age = P + overdue, so both conditions say the same:
 * by default warn at 1.5 periods, critical at 3 (an hourly schedule whose last snapshot is
 * 3 h 01 min old is critical). Each condition guards the other's blind spot:
 * - a timer that runs a while after the cron slot (`0 * * * *` applied at :45) is due from :00,
 *   but its snapshots are always less than 1.5 P apart: age keeps it OK;
 * - an irregular schedule (`0 2 * * 1-5`, P = 1 day) is not late on Sunday although Friday's
 *   snapshot is 2 days old: nothing was due since, and `overdue` keeps it OK.
 *
 * A group whose disks exist but that has no such snapshot is CRITICAL ("never snapshotted"): a
 * first apply takes one at once, since the schedule is due from its latest slot. A group none of
 * whose disks exist yet is WARNING (nothing can be lost; "lvchain apply" creates and snapshots
 * it). Snapshots dated more than the clock-skew tolerance after `now` are left out of the
 * freshness test, as retention leaves them out, and make an otherwise OK result a WARNING.
 */
function scheduleResult(
  storage: string,
  group: string,
  policy: DesiredPolicy,
  cron: string,
  views: readonly DiskView[],
  now: number,
): CheckResult {
  const spec = { cron, timezone: policy.timezone };
  const period = nominalPeriodMs(spec, now);
  const warnAfter = policy.check.warn * period;
  const critAfter = policy.check.crit * period;
  const every = `schedule "${cron}" (${policy.timezone}, every ${formatDurationRounded(period)})`;
  const values: Record<string, CheckValue> = {
    policy: policy.name,
    schedule: cron,
    timezone: policy.timezone,
    period_seconds: period / 1000,
    warn_after_seconds: warnAfter / 1000,
    crit_after_seconds: critAfter / 1000,
  };
  const at = { check: 'schedule' as const, storage, group };
  if (views.length === 0) {
    return {
      ...at,
      status: 'WARNING',
      message: `never snapshotted: its disks do not exist yet; "lvchain apply" creates and snapshots them (${every})`,
      values: { ...values, last_snapshot: null },
    };
  }
  const all = autoSnapshots(views, policy.name);
  const future = all.filter((s) => s.created > now + CLOCK_SKEW_TOLERANCE_MS);
  const newest = all
    .filter((s) => s.created <= now + CLOCK_SKEW_TOLERANCE_MS)
    .reduce<AutoSnapshot | undefined>(
      (best, s) =>
        !best || s.created > best.created || (s.created === best.created && s.name > best.name) ? s : best,
      undefined,
    );
  values['future_dated'] = future.length;
  const futureNote =
    future.length > 0
      ? `; ${future.length} snapshot(s) are dated in the future (${future.map((s) => s.name).join(', ')}): check the clocks`
      : '';
  if (!newest) {
    return {
      ...at,
      status: 'CRITICAL',
      message: `never snapshotted by policy ${policy.name}: no complete auto snapshot on its disks; ${every}${futureNote}`,
      values: { ...values, last_snapshot: null },
    };
  }
  const age = Math.max(0, now - newest.created);
  const dueAt = nextSlot(spec, newest.created);
  const overdue = dueAt === undefined ? 0 : now - dueAt;
  let status: HealthStatus = 'OK';
  if (age > critAfter && overdue > critAfter - period) status = 'CRITICAL';
  else if (age > warnAfter && overdue > warnAfter - period) status = 'WARNING';
  const lateness =
    status === 'CRITICAL'
      ? `, critical after ${formatDurationRounded(critAfter)}`
      : status === 'WARNING'
        ? `, late after ${formatDurationRounded(warnAfter)}`
        : '';
  if (status === 'OK' && future.length > 0) status = 'WARNING';
  return {
    ...at,
    status,
    message: `last snapshot ${newest.name} taken ${formatDurationRounded(age)} ago${lateness}; ${every}${futureNote}`,
    values: {
      ...values,
      last_snapshot: newest.name,
      last_snapshot_at: isoSeconds(newest.created),
      last_snapshot_timestamp_seconds: newest.created / 1000,
      age_seconds: Math.round(age / 1000),
      next_due_at: dueAt === undefined ? null : isoSeconds(dueAt),
      next_due_timestamp_seconds: dueAt === undefined ? null : dueAt / 1000,
      overdue_seconds: Math.max(0, Math.round(overdue / 1000)),
    },
  };
}
