/**
 * Schedules (DESIGN §7, reference §4.4): cron in an IANA zone, evaluated by croner without timers.
 * Every function takes its instant as an argument; croner reads the clock only when no reference
 * is passed, and none of these calls leaves one out.
 */
import { Cron, CronPattern, type CronOptions } from 'croner';
import { CALENDAR_RULES, isValidTimeZone, offsetTransitions } from './calendar.js';
import { CLOCK_SKEW_TOLERANCE_MS, isEmptyPolicy, type RetentionRules } from './retention.js';

export { isValidTimeZone } from './calendar.js';

export interface ScheduleSpec {
  /** Five fields (minute hour day-of-month month day-of-week) or a nickname such as `@daily`. */
  cron: string;
  timezone: string;
}

const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 86_400_000;

// 5-part: auto snapshot names have minute resolution, so a seconds field could only collide.
// 'no-wildcard': a list of fixed times (`30 2,14 * * *`) stays a fixed-time job, which fires after a
// spring-forward jump instead of being skipped (croner's default would skip it), as Vixie cron does.
const CRON_OPTIONS: CronOptions = { paused: true, mode: '5-part', fixedTimeRule: 'no-wildcard' };

// The minute and hour fields behind croner's nicknames; @reboot has no meaning here and croner rejects it.
const NICKNAME_TIME: Readonly<Record<string, readonly [string, string]>> = {
  '@hourly': ['0', '*'],
  '@daily': ['0', '0'],
  '@midnight': ['0', '0'],
  '@weekly': ['0', '0'],
  '@monthly': ['0', '0'],
  '@yearly': ['0', '0'],
  '@annually': ['0', '0'],
};

// A fixed instant for the checks that need "some time": validation must not depend on the clock.
const REFERENCE = Date.UTC(2026, 0, 1);

function parse(spec: ScheduleSpec): Cron | string {
  if (!isValidTimeZone(spec.timezone)) {
    return `unknown time zone "${spec.timezone}": expected an IANA name such as "Europe/Berlin"`;
  }
  const text = spec.cron.trim();
  const fields = text.split(/\s+/);
  if (!text.startsWith('@') && fields.length !== 5) {
    return (
      `cron "${spec.cron}" has ${fields.length} field(s); expected 5 ` +
      `(minute hour day-of-month month day-of-week)`
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(text, { ...CRON_OPTIONS, timezone: spec.timezone });
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e);
    return `invalid cron "${spec.cron}": ${why}`;
  }
  if (cron.nextRun(new Date(REFERENCE)) === null) return `cron "${spec.cron}" never fires`;
  return cron;
}

function compile(spec: ScheduleSpec): Cron {
  const cron = parse(spec);
  if (typeof cron === 'string') throw new RangeError(cron);
  return cron;
}

export function validateSchedule(spec: ScheduleSpec): { ok: true } | { ok: false; message: string } {
  const cron = parse(spec);
  return typeof cron === 'string' ? { ok: false, message: cron } : { ok: true };
}

/** The slot: the latest fire at or before `now`. */
export function currentSlot(spec: ScheduleSpec, now: number): number | undefined {
  // croner's previous runs are strictly before the reference, and fires are whole seconds.
  const [slot] = compile(spec).previousRuns(1, new Date(now + 1));
  return slot?.getTime();
}

/** The first fire strictly after `after`. */
export function nextSlot(spec: ScheduleSpec, after: number): number | undefined {
  return compile(spec).nextRun(new Date(after))?.getTime();
}

/**
 * Due when no complete, owned snapshot was created at or after the current slot. Pass only those
 * snapshots. Missed slots are not backfilled: one snapshot now satisfies the latest slot, and the
 * schedule is not due again until the next fire.
 */
export function isDue(
  spec: ScheduleSpec,
  now: number,
  snapshotsCreated: readonly number[],
): { due: boolean; slot?: number } {
  const slot = currentSlot(spec, now);
  if (slot === undefined) return { due: false };
  return { due: !snapshotsCreated.some((created) => created >= slot), slot };
}

/** The typical gap between fires (median of the next 20), for "overdue" checks. */
export function nominalPeriodMs(spec: ScheduleSpec, now: number): number {
  const fires = compile(spec)
    .nextRuns(21, new Date(now))
    .map((d) => d.getTime());
  const gaps = fires
    .slice(1)
    .map((t, i) => t - (fires[i] as number))
    .sort((a, b) => a - b);
  return gaps[Math.floor((gaps.length - 1) / 2)] ?? Number.POSITIVE_INFINITY;
}

/** `auto-YYYYMMDDTHHMMZ` in UTC; the name is for people, `created` in metadata is the truth. */
export function autoSnapshotName(now: number): string {
  const d = new Date(now);
  const year = d.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) throw new RangeError(`cannot name a snapshot for instant ${now}`);
  const iso = d.toISOString();
  return `auto-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/**
 * The shortest gap between two fires, DST included: a lower bound, for the `within` bound.
 *
 * Day-of-month, month and weekday fields only remove fires, and removing fires never shortens a
 * gap, so the same minute and hour fields fired every day bound it from below. That daily pattern
 * has the same gaps as on the wall clock (read off croner's parsed fields) except next to offset
 * changes, where a repeated hour can put two fires an hour closer: those few hours are enumerated.
 */
export function shortestFireIntervalMs(spec: ScheduleSpec): number {
  compile(spec);
  const text = spec.cron.trim();
  const [minute, hour] = NICKNAME_TIME[text.toLowerCase()] ?? text.split(/\s+/);
  const everyDay = `${minute} ${hour} * * *`;
  const pattern = new CronPattern(everyDay, undefined, { mode: '5-part' });
  const times: number[] = [];
  for (let h = 0; h < 24; h++)
    for (let m = 0; m < 60; m++) if (pattern.hour[h] && pattern.minute[m]) times.push(h * 60 + m);
  const wall = times.map((t, i) =>
    i === 0 ? 1440 - (times[times.length - 1] as number) + t : t - (times[i - 1] as number),
  );
  let best = Math.min(...wall) * 60_000;
  // Fires are whole minutes in every modern zone, so nothing can beat one minute.
  if (best <= 60_000) return best;

  const daily = compile({ cron: everyDay, timezone: spec.timezone });
  for (const { at: change, shiftSeconds } of offsetTransitions(
    spec.timezone,
    REFERENCE,
    REFERENCE + 2 * YEAR_MS,
  )) {
    if (best <= 60_000) break;
    // Only fires whose wall time the change skips or repeats move; they lie within the shift of it.
    const reach = HOUR_MS + Math.abs(shiftSeconds) * 1000;
    let at = daily.previousRuns(1, new Date(change - reach))[0]?.getTime() ?? change - reach;
    while (at <= change + reach) {
      const next = daily.nextRun(new Date(at))?.getTime();
      if (next === undefined) break;
      best = Math.min(best, next - at);
      at = next;
    }
  }
  return best;
}

/**
 * The most snapshots a policy can hold once a retention run has finished: the figure `validate`
 * compares with maxChainDepth. It counts pinned and complete auto snapshots; foreign, incomplete
 * and future-dated ones are outside the policy, and a run that takes a snapshot holds one more
 * until it prunes. It assumes runs are not refused by a guard (a refused run deletes nothing).
 *
 * Why it holds, for the kept set K = L ∪ W ∪ C₁ ∪ … ∪ Cₖ ∪ {E₀} (E newest first, E₀ = minKeep):
 * - `last N` (L) and `within d` (W) are both prefixes of E, so with E₀ they fit in the prefix of
 *   length max(1, N, w).
 * - A schedule is due only when no snapshot is at or after the current slot, so each interval
 *   between two fires holds at most one auto snapshot. A window of length d + skew (eligible
 *   snapshots reach now + skew; the conservative window, anchored at the newest, is only d long)
 *   meets at most ceil((d + skew) / g) + 1 such intervals, g being the shortest gap between fires.
 *   That is w. Without a schedule nothing bounds how many snapshots fall in the window.
 * - A calendar rule keeps one snapshot in each of its N newest non-empty buckets, and the newest
 *   bucket's representative is E₀, already counted: at most N − 1 more. Buckets without snapshots
 *   never count, so a rule keeps N however coarse or fine the schedule is.
 * An empty policy keeps everything, so it is unbounded.
 */
export function worstCaseRetained(
  rules: RetentionRules,
  spec: ScheduleSpec | undefined,
  pinnedCount: number,
): number | 'unbounded' {
  if (isEmptyPolicy(rules)) return 'unbounded';
  let prefix = Math.max(1, rules.last ?? 0);
  const within = rules.within ?? 0;
  if (within > 0) {
    if (!spec) return 'unbounded';
    const w = Math.ceil((within + CLOCK_SKEW_TOLERANCE_MS) / shortestFireIntervalMs(spec)) + 1;
    prefix = Math.max(prefix, w);
  }
  const calendar = CALENDAR_RULES.reduce((sum, r) => sum + Math.max(0, (rules[r] ?? 0) - 1), 0);
  return pinnedCount + prefix + calendar;
}

// Read IOPS by chain depth: qemu-img bench, 4k random reads, O_DIRECT, 16 in flight, measured on
// the target kind of machine (shared/reference/qemu-img-and-qmp.md §4.1; DESIGN §7 quotes the same
// run as about 20 % at depth 16 and 85 % at depth 64).
const READ_BENCH: readonly (readonly [depth: number, iops: number])[] = [
  [1, 86_207],
  [4, 84_746],
  [16, 66_225],
  [64, 12_121],
];

/**
 * Percent of read IOPS lost against a single layer. The cost is CPU per layer per request, so the
 * time per read (1 / IOPS) is interpolated linearly in depth, and extrapolated past the deepest
 * measurement along its last segment, which keeps the loss rising towards, never past, 100 %.
 */
export function readCostPercent(depth: number): number {
  if (!(depth > 1)) return 0;
  const timeAt = (d: number): number => {
    let i = 1;
    while (i < READ_BENCH.length - 1 && (READ_BENCH[i] as readonly [number, number])[0] < d) i++;
    const [d0, iops0] = READ_BENCH[i - 1] as readonly [number, number];
    const [d1, iops1] = READ_BENCH[i] as readonly [number, number];
    return 1 / iops0 + ((d - d0) * (1 / iops1 - 1 / iops0)) / (d1 - d0);
  };
  return 100 * (1 - timeAt(1) / timeAt(depth));
}
