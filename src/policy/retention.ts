/**
 * Retention: which snapshots of one stream to keep (DESIGN §7, reference §4.3). Pure: the clock
 * is `opts.now`, the zone is `opts.timezone`, and the output depends on neither input order nor
 * anything ambient.
 */
import type { RetentionRules } from '../model/desired.js';
import { formatDurationExact } from '../base/durations.js';
import { assertTimeZone, bucketKeys, CALENDAR_RULES } from './calendar.js';

export type { RetentionRules };

/**
 * Snapshots dated up to this far after `now` still count as present: hosts sharing a VG never
 * agree to the millisecond, and a snapshot stamped by a slightly fast peer is not "from the future".
 */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60_000;

export interface RetentionInput {
  /** Snapshot name, unique within the stream. */
  id: string;
  /** Epoch ms from metadata (never parsed from the name). */
  created: number;
  /** foreign = not made by this policy: never deleted, never counted. */
  kind: 'auto' | 'pinned' | 'foreign';
  /** Incomplete snapshots are never representatives and never deleted here. */
  complete: boolean;
}

/** For people (plans, logs); nothing may branch on it. */
export type RetentionReason = string;

export type RetentionDecision =
  | {
      id: string;
      action: 'keep';
      reasons: [RetentionReason, ...RetentionReason[]];
      /** Set when only a refused guard saved it: the policy alone would have deleted it. */
      refusedDelete?: true;
    }
  | { id: string; action: 'delete'; reasons: ['expired'] };

export interface RetentionRefusal {
  code: 'max_deletes_exceeded' | 'clock_behind';
  message: string;
}

interface ResultBase {
  /** One per input, newest first, ties by id. */
  decisions: RetentionDecision[];
  warnings: string[];
}
/** A refused result deletes nothing: every decision is `keep`. */
export type RetentionResult =
  (ResultBase & { status: 'ok' }) | (ResultBase & { status: 'refused'; refusal: RetentionRefusal });

export interface RetentionOptions {
  timezone: string;
  now: number;
  /** More deletions than this refuse the whole run. Absent = no limit. */
  maxDeletesPerRun?: number;
  /**
   * For a run whose snapshot step failed. `within` is measured back from the newest eligible
   * snapshot instead of from `now`, so while no new snapshot arrives nothing ages out of the window:
   * a broken pipeline cannot age history away, and this mode never deletes more than a normal run.
   */
  conservative?: boolean;
  /** Override the guards (the CLI's explicit flag). */
  allowMassDelete?: boolean;
}

/** A policy without any positive rule; it keeps everything rather than only the newest. */
export function isEmptyPolicy(rules: RetentionRules): boolean {
  return !(['last', 'within', ...CALENDAR_RULES] as const).some((rule) => (rules[rule] ?? 0) > 0);
}

export function decideRetention(
  snapshots: readonly RetentionInput[],
  rules: RetentionRules,
  opts: RetentionOptions,
): RetentionResult {
  checkArguments(snapshots, rules, opts);
  const ordered = [...snapshots].sort(newestFirst);
  const reasons = new Map<string, RetentionReason[]>(ordered.map((s) => [s.id, []]));
  const keep = (id: string, why: RetentionReason): void => void reasons.get(id)?.push(why);
  const warnings: string[] = [];

  const eligible: RetentionInput[] = [];
  for (const s of ordered) {
    const held = heldBack(s, opts.now);
    for (const why of held) keep(s.id, why);
    if (held.includes('future-dated')) warnings.push(futureWarning(s, opts.now));
    if (held.length === 0) eligible.push(s);
  }

  if (isEmptyPolicy(rules)) {
    warnings.push('the retention policy has no rule with a positive count or duration: nothing is deleted');
    for (const s of eligible) keep(s.id, 'policy:empty');
  } else {
    for (const [id, why] of ruleKeeps(eligible, rules, opts)) keep(id, why);
    const newest = eligible[0];
    if (newest && reasons.get(newest.id)?.length === 0) keep(newest.id, 'guard:minKeep');
  }

  const doomed = eligible.filter((s) => reasons.get(s.id)?.length === 0).map((s) => s.id);
  const refusal = guardRefusal(ordered, doomed.length, opts);
  const blocking = opts.allowMassDelete ? undefined : refusal;
  if (refusal && !blocking) warnings.push(`guard overridden (allowMassDelete): ${refusal.message}`);

  const decisions = ordered.map((s): RetentionDecision => {
    const [first, ...rest] = reasons.get(s.id) ?? [];
    if (first !== undefined) return { id: s.id, action: 'keep', reasons: [first, ...rest] };
    if (blocking) return { id: s.id, action: 'keep', reasons: ['guard:refused'], refusedDelete: true };
    return { id: s.id, action: 'delete', reasons: ['expired'] };
  });
  return blocking
    ? { status: 'refused', refusal: blocking, decisions, warnings }
    : { status: 'ok', decisions, warnings };
}

/** The total order every rule walks: newest first, ties by id, so input order never matters. */
function newestFirst(a: RetentionInput, b: RetentionInput): number {
  return b.created - a.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Why a snapshot is outside the eligible set; empty when it is eligible. */
function heldBack(s: RetentionInput, now: number): RetentionReason[] {
  const why: RetentionReason[] = [];
  if (s.kind !== 'auto') why.push(s.kind);
  if (!s.complete) why.push('incomplete');
  if (s.created > now + CLOCK_SKEW_TOLERANCE_MS) why.push('future-dated');
  return why;
}

function futureWarning(s: RetentionInput, now: number): string {
  return (
    `snapshot ${s.id} is dated ${iso(s.created)}, after now (${iso(now)}) plus ` +
    `${formatDurationExact(CLOCK_SKEW_TOLERANCE_MS)}: kept, and left out of retention`
  );
}

/** (id, reason) for every keep rule that holds, in rule order. */
function* ruleKeeps(
  eligible: readonly RetentionInput[],
  rules: RetentionRules,
  opts: RetentionOptions,
): Generator<[string, RetentionReason]> {
  const last = rules.last ?? 0;
  for (const s of eligible.slice(0, last)) yield [s.id, `last ${last}`];

  const within = rules.within ?? 0;
  const newest = eligible[0];
  if (within > 0 && newest) {
    const anchor = opts.conservative ? Math.min(newest.created, opts.now) : opts.now;
    const label = `within ${formatDurationExact(within)}${opts.conservative ? ' of newest' : ''}`;
    for (const s of eligible) if (s.created > anchor - within) yield [s.id, label];
  }

  const calendar = CALENDAR_RULES.filter((r) => (rules[r] ?? 0) > 0);
  if (calendar.length === 0) return;
  const keyed = eligible.map((s) => ({ id: s.id, keys: bucketKeys(s.created, opts.timezone) }));
  for (const rule of calendar) {
    // Walking newest first, the first member seen of a bucket is its newest, and buckets are
    // ranked by that member; buckets without snapshots never count, so downtime costs nothing.
    const seen = new Set<string>();
    const count = rules[rule] ?? 0;
    for (const { id, keys } of keyed) {
      if (seen.size === count) break;
      if (seen.has(keys[rule])) continue;
      seen.add(keys[rule]);
      yield [id, `${rule} ${keys[rule]}`];
    }
  }
}

function guardRefusal(
  ordered: readonly RetentionInput[],
  deletions: number,
  opts: RetentionOptions,
): RetentionRefusal | undefined {
  // Any kind counts: a snapshot stamped ahead of our clock says our clock, not the policy, is off.
  const newest = ordered[0];
  if (newest && opts.now < newest.created - CLOCK_SKEW_TOLERANCE_MS) {
    return {
      code: 'clock_behind',
      message:
        `the clock (${iso(opts.now)}) is behind snapshot ${newest.id} (${iso(newest.created)}) by more than ` +
        `${formatDurationExact(CLOCK_SKEW_TOLERANCE_MS)}: nothing is deleted until the clock or the snapshot is fixed`,
    };
  }
  const max = opts.maxDeletesPerRun;
  if (max !== undefined && deletions > max) {
    return {
      code: 'max_deletes_exceeded',
      message: `retention would delete ${deletions} snapshots, more than maxDeletesPerRun (${max}): nothing is deleted`,
    };
  }
  return undefined;
}

function checkArguments(
  snapshots: readonly RetentionInput[],
  rules: RetentionRules,
  opts: RetentionOptions,
): void {
  assertTimeZone(opts.timezone);
  if (!Number.isFinite(opts.now))
    throw new RangeError(`now must be a finite epoch-ms instant, got ${opts.now}`);
  for (const [name, value] of Object.entries(rules)) {
    if (value === undefined) continue;
    const ok =
      name === 'within' ? Number.isFinite(value) && value >= 0 : Number.isSafeInteger(value) && value >= 0;
    if (!ok)
      throw new RangeError(
        `retention rule ${name} must be a non-negative ${name === 'within' ? 'duration' : 'whole number'}, got ${value}`,
      );
  }
  const max = opts.maxDeletesPerRun;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) {
    throw new RangeError(`maxDeletesPerRun must be a non-negative whole number, got ${max}`);
  }
  const ids = new Set<string>();
  for (const s of snapshots) {
    if (ids.has(s.id)) throw new RangeError(`snapshot id ${s.id} appears twice in one stream`);
    ids.add(s.id);
    if (!Number.isFinite(s.created)) throw new RangeError(`snapshot ${s.id} has no valid creation instant`);
  }
}

const iso = (t: number): string => new Date(t).toISOString();
