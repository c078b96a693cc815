/**
 * Wall-clock arithmetic in an IANA zone: calendar buckets for retention and the zone's offset
 * changes for schedule analysis. Everything goes through Intl (Node ships full ICU), so no tz
 * database is bundled and an unknown zone fails closed instead of silently meaning UTC.
 */

export const CALENDAR_RULES = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type CalendarRule = (typeof CALENDAR_RULES)[number];
export type BucketKeys = Readonly<Record<CalendarRule, string>>;

/** The wall clock of an instant in a zone, and the offset (local − UTC) in force at it. */
export interface LocalTime {
  readonly year: number;
  /** 1–12 */
  readonly month: number;
  readonly day: number;
  /** 0–23 */
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly offsetSeconds: number;
}

const DAY_MS = 86_400_000;

// Building a DateTimeFormat costs far more than using one, and bucketing calls this per snapshot.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  // Newer ICU builds accept "+01:00"; that is an offset, not a zone, and has no DST rules.
  if (timeZone === '' || /^[+-]/.test(timeZone)) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function assertTimeZone(timeZone: string): void {
  if (!isValidTimeZone(timeZone)) {
    throw new RangeError(`unknown time zone "${timeZone}": expected an IANA name such as "Europe/Berlin"`);
  }
}

export function localTime(instant: number, timeZone: string): LocalTime {
  const f = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    switch (part.type) {
      case 'year':
      case 'month':
      case 'day':
      case 'hour':
      case 'minute':
      case 'second':
        f[part.type] = Number(part.value);
    }
  }
  const wholeSecond = Math.floor(instant / 1000) * 1000;
  const asIfUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return { ...f, offsetSeconds: (asIfUtc - wholeSecond) / 1000 };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `+02:00`; seconds only for historical local-mean-time offsets. */
export function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  const hm = `${pad(Math.floor(abs / 3600))}:${pad(Math.floor(abs / 60) % 60)}`;
  return abs % 60 === 0 ? `${sign}${hm}` : `${sign}${hm}:${pad(abs % 60)}`;
}

/** ISO 8601 week of a calendar date: weeks start on Monday and belong to the year of their Thursday. */
export function isoWeekKey(year: number, month: number, day: number): string {
  const date = Date.UTC(year, month - 1, day);
  const isoWeekday = ((new Date(date).getUTCDay() + 6) % 7) + 1;
  const thursday = date + (4 - isoWeekday) * DAY_MS;
  const isoYear = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(isoYear, 0, 1)) / (7 * DAY_MS)) + 1;
  return `${pad(isoYear, 4)}-W${pad(week)}`;
}

/**
 * The calendar buckets an instant falls in, in the zone. The hour key carries the offset, so the
 * repeated hour of a fall-back change is two buckets; local dates make days of 23 or 25 hours.
 */
export function bucketKeys(instant: number, timeZone: string): BucketKeys {
  const t = localTime(instant, timeZone);
  const date = `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}`;
  return {
    hourly: `${date}T${pad(t.hour)}:00${formatOffset(t.offsetSeconds)}`,
    daily: date,
    weekly: isoWeekKey(t.year, t.month, t.day),
    monthly: date.slice(0, 7),
    yearly: pad(t.year, 4),
  };
}

export interface OffsetTransition {
  /** The first whole second with the new offset. */
  at: number;
  /** New offset minus old: +3600 for spring forward, −3600 for fall back. */
  shiftSeconds: number;
}

/**
 * The zone's UTC offset changes in [from, to). Probing every 12 hours is enough because no zone
 * changes its offset twice that fast.
 */
export function offsetTransitions(timeZone: string, from: number, to: number): OffsetTransition[] {
  const step = 12 * 3_600_000;
  const offset = (t: number): number => localTime(t, timeZone).offsetSeconds;
  const found: OffsetTransition[] = [];
  let before = offset(from);
  for (let lo = from; lo < to; lo += step) {
    const hi = Math.min(lo + step, to);
    const after = offset(hi);
    if (after !== before) {
      let [a, b] = [lo, hi];
      while (b - a > 1000) {
        const mid = a + Math.floor((b - a) / 2000) * 1000;
        if (offset(mid) === before) a = mid;
        else b = mid;
      }
      found.push({ at: b, shiftSeconds: after - before });
    }
    before = after;
  }
  return found;
}
