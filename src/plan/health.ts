/**
 * `lvchain check`: the health of every storage, snapshot group and disk (issue 4 §6, reference
 * retention-and-schedules §4.7). Pure like the planner: a function of the config, what was
 * observed and the instant, with every threshold here, so each rule is testable without a host.
 *
 * Each check yields one result with a Nagios status. The run's status is the worst of them, in
 * the order the monitoring-plugins library uses to combine states (`max_state_alt`):
 * CRITICAL > UNKNOWN > WARNING > OK. A known problem outranks "could not look", and "could not
 * look" outranks a warning, because what was not seen may be worse.
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
import type { Desired, DesiredDisk, DesiredPolicy, DesiredStorage } from '../model/desired.js';
import { snapshotGroupOf } from '../model/desired.js';
import type { ObservedDisk, ObservedStorage, ObservedVolumeGroup } from '../model/observed.js';
import type { LayerMeta } from '../model/meta.js';
import { describeIntent } from '../model/intent.js';
import { formatBytes } from '../config/units.js';
import type { DiskView } from './interpret.js';
import { interpretDisk } from './interpret.js';
import { sizingFor } from './sizing.js';
import { chainOf, findIntents, snapshotsOf } from './state.js';
import { metadataPerLv, reserveBytes } from './capacity.js';
import { nextSlot, nominalPeriodMs } from './schedule.js';
import { CLOCK_SKEW_TOLERANCE_MS } from './retention.js';
import { resume } from './ops.js';
import { isoSeconds } from '../model/instant.js';

export type HealthStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** Nagios plugin exit codes. */
export const EXIT_CODES: Readonly<Record<HealthStatus, 0 | 1 | 2 | 3>> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

/** Severity order for combining results (monitoring-plugins `max_state_alt`). */
const RANK: Readonly<Record<HealthStatus, number>> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

export function worse(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[b] > RANK[a] ? b : a;
}

export function severityRank(s: HealthStatus): number {
  return RANK[s];
}

export type CheckName =
  'run' | 'output' | 'storage' | 'space' | 'metadata' | 'schedule' | 'chain' | 'depth' | 'interrupted';

export type CheckValue = number | string | boolean | null | readonly string[];

export interface CheckResult {
  check: CheckName;
  status: HealthStatus;
  /** One line, for people. Nothing may branch on it. */
  message: string;
  storage?: string;
  /** The snapshot group: `guest.<name>`, or `disk.<name>` for a disk outside any guest. */
  group?: string;
  disk?: string;
  /** The figures behind the status, JSON-safe; the Prometheus metrics are read from these. */
  values: Record<string, CheckValue>;
}

export interface HealthReport {
  /** Epoch ms the schedules were evaluated at. */
  now: number;
  status: HealthStatus;
  results: CheckResult[];
}

/** What observing one storage gave: the observation, or why there is none. */
export type StorageObservation =
  { ok: true; observed: ObservedStorage } | { ok: false; error: string; code: string };

export interface HealthInput {
  desired: Desired;
  storages: Readonly<Record<string, StorageObservation>>;
  now: number;
  /** maxChainDepth for disks without a policy (the config default). */
  defaultMaxChainDepth: number;
}

/** A group is late past 1.5 schedule periods and critical past 3 (issue 4 §6). */
export const AGE_WARN_PERIODS = 1.5;
export const AGE_CRIT_PERIODS = 3;
/** Depth: WARNING beyond maxChainDepth, CRITICAL beyond this multiple of it. */
export const DEPTH_CRIT_FACTOR = 2;
/** LVM metadata: WARNING when less than this fraction of the usable area is free. */
export const METADATA_WARN_FRACTION = 0.2;

export function assessHealth(input: HealthInput): HealthReport {
  const results: CheckResult[] = [];
  for (const name of Object.keys(input.desired.storages).sort()) {
    const storage = input.desired.storages[name] as DesiredStorage;
    results.push(...assessStorage(input, storage, input.storages[name]));
  }
  return { now: input.now, status: overallStatus(results), results };
}

export function overallStatus(results: readonly CheckResult[]): HealthStatus {
  return results.reduce<HealthStatus>((s, r) => worse(s, r.status), 'OK');
}

/** The virtual sizes `interpretDisk` sizes LVs for: read headers of layers that are LVs. */
export function sizesToMeasure(observed: ObservedStorage): number[] {
  const sizes = new Set<number>();
  for (const d of Object.values(observed.disks))
    for (const l of d.layers)
      if (l.capacity !== undefined && l.header.state === 'read') sizes.add(l.header.header.virtualSize);
  return [...sizes].sort((a, b) => a - b);
}

function assessStorage(
  input: HealthInput,
  storage: DesiredStorage,
  obs: StorageObservation | undefined,
): CheckResult[] {
  const name = storage.name;
  const at = { storage: name };
  if (!obs || !obs.ok) {
    const why = obs ? obs.error : 'it was not observed';
    return [
      {
        check: 'storage',
        status: 'UNKNOWN',
        message: `could not be checked: ${why}`,
        ...at,
        values: { up: false, error_code: obs ? obs.code : null },
      },
    ];
  }
  const observed = obs.observed;
  const kind = storage.kind === 'lvm' ? 'volume group' : 'directory';
  const where =
    storage.kind === 'lvm' ? (storage.host ? ` on host ${storage.host}` : ' on this machine') : '';
  if (!observed.exists) {
    const creates = storage.kind === 'dir' || storage.pvs.length > 0;
    return [
      {
        check: 'storage',
        status: creates ? 'WARNING' : 'CRITICAL',
        message: creates
          ? `${kind} ${name} does not exist yet${where}; "lvchain apply" creates it`
          : `${kind} ${name} does not exist${where}`,
        ...at,
        values: { up: true, exists: false },
      },
    ];
  }

  const results: CheckResult[] = [];
  const declared = Object.values(input.desired.disks)
    .filter((d) => d.storage === name)
    .sort((a, b) => a.name.localeCompare(b.name));
  const busy = runningOn(observed);
  results.push({
    check: 'storage',
    status: observed.errors.length > 0 ? 'CRITICAL' : 'OK',
    message:
      observed.errors.length > 0
        ? observed.errors.join('; ')
        : `${kind} ${name}${where}: ${declared.length} declared disk(s), ${observed.foreign.length} object(s) not lvchain's${busy ? `; ${busy}` : ''}`,
    ...at,
    values: {
      up: true,
      exists: true,
      kind: storage.kind,
      foreign_objects: observed.foreign.length,
      locked: observed.lockHeldBy !== undefined,
    },
  });
  results.push(spaceResult(storage, observed));
  if (observed.kind === 'lvm') results.push(metadataResult(observed));

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
      const existing = disks.map((d) => viewOf(d.name)).filter((v) => exists(v));
      results.push(scheduleResult(name, id, policy, policy.schedule, existing, input.now));
    }
  }
  const wipe = storage.kind === 'lvm' ? storage.wipe : 'none';
  // Whether an interrupted operation can be resumed does not depend on exact LV sizes, so
  // unmeasured sizes are estimated here rather than measured.
  const resumeSizing = sizingFor(observed, new Set());
  const resumeCtx = (topMeta: LayerMeta): ResumeContext => ({
    sizing: resumeSizing,
    wipeOnFree: wipe === 'zeroout-on-free',
    wipeOnCreate: wipe === 'zeroout-on-create',
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

function spaceResult(storage: DesiredStorage, observed: ObservedStorage): CheckResult {
  const reserve = reserveBytes(storage.reserve, observed.size);
  const low = observed.free < reserve;
  return {
    check: 'space',
    status: low ? 'WARNING' : 'OK',
    message: low
      ? `free space ${formatBytes(observed.free)} is below the reserve of ${formatBytes(reserve)} (size ${formatBytes(observed.size)}); plans that need space are refused`
      : `free ${formatBytes(observed.free)} of ${formatBytes(observed.size)}, reserve ${formatBytes(reserve)}`,
    storage: storage.name,
    values: { free_bytes: observed.free, size_bytes: observed.size, reserve_bytes: reserve },
  };
}

function metadataResult(observed: ObservedVolumeGroup): CheckResult {
  const usable = observed.mdaSize / 2;
  const low = observed.mdaFree < METADATA_WARN_FRACTION * usable;
  const fit = Math.max(0, Math.floor(observed.mdaFree / metadataPerLv(observed)));
  return {
    check: 'metadata',
    status: low ? 'WARNING' : 'OK',
    message: low
      ? `the LVM metadata area is nearly full: ${observed.mdaFree} bytes free of about ${usable} usable (room for about ${fit} more LVs); remove LVs or enlarge the metadata area`
      : `metadata area: ${observed.mdaFree} bytes free of about ${usable} usable (room for about ${fit} more LVs)`,
    storage: observed.name,
    values: {
      metadata_free_bytes: observed.mdaFree,
      metadata_size_bytes: observed.mdaSize,
      lv_count: observed.lvCount,
      lvs_that_fit: fit,
    },
  };
}

function exists(view: DiskView): boolean {
  return Object.keys(view.state.layers).length > 0;
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
 *   CRITICAL  when age > 3 P   and overdue > 2 P
 *   WARNING   when age > 1.5 P and overdue > 0.5 P
 *
 * For a regular schedule whose snapshots are taken at their slots, age = P + overdue, so both
 * conditions say the same: warn at 1.5 periods, critical at 3 (an hourly schedule whose last
 * snapshot is 3 h 01 min old is critical). Each condition guards the other's blind spot:
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
  const warnAfter = AGE_WARN_PERIODS * period;
  const critAfter = AGE_CRIT_PERIODS * period;
  const every = `schedule "${cron}" (${policy.timezone}, every ${formatDuration(period)})`;
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
      ? `, critical after ${formatDuration(critAfter)}`
      : status === 'WARNING'
        ? `, late after ${formatDuration(warnAfter)}`
        : '';
  if (status === 'OK' && future.length > 0) status = 'WARNING';
  return {
    ...at,
    status,
    message: `last snapshot ${newest.name} taken ${formatDuration(age)} ago${lateness}; ${every}${futureNote}`,
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

/**
 * Depth is the number of snapshot layers in the chain, the figure maxChainDepth bounds (the
 * policy's, or the config default for a disk without one). `validate` refuses a policy whose
 * retention can keep more, so a chain beyond it means something else adds layers: retention
 * refused or blocked, runs failing, pinned or imported snapshots piling up. Then:
 *
 *   WARNING   depth > maxChainDepth
 *   CRITICAL  depth > 2 × maxChainDepth (at the default 32 that is past 64 layers, where reads
 *             lose about 85 % of their IOPS: DESIGN §7)
 *
 * There is no warning below the maximum: a policy may legitimately sit at exactly its maximum
 * every day, and a warning that never clears teaches people to ignore the check.
 */
export function depthStatus(depth: number, max: number): HealthStatus {
  if (depth > DEPTH_CRIT_FACTOR * max) return 'CRITICAL';
  if (depth > max) return 'WARNING';
  return 'OK';
}

interface ResumeContext {
  sizing: ReturnType<typeof sizingFor>;
  wipeOnFree: boolean;
  wipeOnCreate: boolean;
  topMeta: LayerMeta;
}

function diskResults(
  at: { storage: string; group?: string; disk: string },
  observed: ObservedDisk | undefined,
  view: DiskView,
  maxDepth: number,
  busy: string | undefined,
  ctx: ResumeContext,
): CheckResult[] {
  if (!exists(view)) {
    return [
      {
        check: 'chain',
        status: 'WARNING',
        message: 'declared but not created yet; "lvchain apply" creates it',
        ...at,
        values: { exists: false, drift: false, verified: false, layers: 0 },
      },
    ];
  }
  const layers = Object.keys(view.state.layers).length;
  const problems = view.problems.map((p) => `${p.code}: ${oneLine(p.message)}`);
  const unverified = unverifiedReason(observed);
  const chainValues = {
    exists: true,
    layers,
    verified: view.verified,
    drift: problems.length > 0,
    problems,
    in_use: view.inUse,
  };
  const chain: CheckResult =
    problems.length > 0
      ? {
          check: 'chain',
          status: 'CRITICAL',
          message: `drift: ${oneLine(view.problems[0]?.message ?? '')}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}; lvchain leaves this disk alone until it is fixed`,
          ...at,
          values: chainValues,
        }
      : {
          check: 'chain',
          status: 'OK',
          message: view.verified
            ? `${layers} layer(s), headers verified`
            : `${layers} layer(s), not verified: ${unverified}`,
          ...at,
          values: chainValues,
        };

  const chainLayers = chainOf(view.state);
  const depth = chainLayers
    ? snapshotsOf(chainLayers).length
    : Object.values(view.state.layers).filter((l) => l.ref.role === 'snapshot').length;
  const depthState = depthStatus(depth, maxDepth);
  const depthResult: CheckResult = {
    check: 'depth',
    status: depthState,
    message:
      depthState === 'OK'
        ? `${depth} snapshot(s), at most ${maxDepth}`
        : `${depth} snapshots, more than ${depthState === 'CRITICAL' ? `${DEPTH_CRIT_FACTOR} × ` : ''}maxChainDepth ${maxDepth}; every layer slows reads: check retention and pinned or imported snapshots`,
    ...at,
    values: { depth, max_depth: maxDepth },
  };

  const intents = findIntents(view.state);
  const first = intents[0];
  let interrupted: CheckResult;
  if (!first) {
    interrupted = {
      check: 'interrupted',
      status: 'OK',
      message: 'no interrupted operation',
      ...at,
      values: { operations: 0 },
    };
  } else {
    const what = describeIntent(first.intent);
    // Only a chain without drift is resumed by apply; with drift the chain result is CRITICAL already.
    const resumed = problems.length === 0 ? resume(view.state, first.intent, ctx) : undefined;
    interrupted = busy
      ? {
          check: 'interrupted',
          status: 'OK',
          message: `a ${what} is in progress: ${busy}`,
          ...at,
          values: { operations: intents.length, operation: what, in_progress: true },
        }
      : resumed && !resumed.ok
        ? {
            check: 'interrupted',
            status: 'CRITICAL',
            message: `an interrupted ${what} cannot be resumed: ${oneLine(resumed.reason)}`,
            ...at,
            values: { operations: intents.length, operation: what },
          }
        : {
            check: 'interrupted',
            status: 'WARNING',
            message: `an interrupted ${what}; "lvchain apply" finishes it`,
            ...at,
            values: { operations: intents.length, operation: what },
          };
  }
  return [chain, depthResult, interrupted];
}

/**
 * Who is changing the storage right now, if anyone holds its applier lock: an intent found then
 * belongs to a run in progress, not to an interrupted one. (A run stuck for good still shows, as
 * its group's snapshots grow late.)
 */
function runningOn(observed: ObservedStorage): string | undefined {
  const holder = observed.lockHeldBy;
  if (holder === undefined) return undefined;
  if (holder === 'unknown') return 'an lvchain run holds its lock';
  return `an lvchain run holds its lock: ${holder.operation} by ${holder.who} since ${holder.created} (lock ${holder.id})`;
}

function unverifiedReason(disk: ObservedDisk | undefined): string {
  const inactive = (disk?.layers ?? []).filter((l) => l.lv?.active === false).length;
  return inactive > 0
    ? `${inactive} inactive LV(s), which check does not activate; the chain was read from LV names and tags`
    : 'headers were not read; the chain was read from names and metadata';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A duration for people: `45s`, `30m`, `3h01m`, `2d04h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.round(Math.abs(ms) / 1000);
  const sign = ms < 0 ? '-' : '';
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${sign}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m${s % 60 ? pad(s % 60) + 's' : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${sign}${h}h${m % 60 ? pad(m % 60) + 'm' : ''}`;
  const d = Math.floor(h / 24);
  return `${sign}${d}d${h % 24 ? pad(h % 24) + 'h' : ''}`;
}
