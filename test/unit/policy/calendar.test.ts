import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketKeys,
  formatOffset,
  isoWeekKey,
  isValidTimeZone,
  localTime,
  offsetTransitions,
} from '../../../src/policy/calendar.js';

const H = 3_600_000;
const at = (iso: string): number => Date.parse(iso);
const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Chatham',
  'UTC',
];

/** Local dates of instants every `stepMs` in [from, to), with how many instants each got. */
function dayCounts(zone: string, from: number, to: number, stepMs: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let t = from; t < to; t += stepMs) {
    const day = bucketKeys(t, zone).daily;
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  return counts;
}

describe('time zones', () => {
  it('accepts IANA names and rejects unknown names and bare offsets', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('+01:00')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone('Europe/Berlin ')).toBe(false);
  });

  it('reads the wall clock and the offset in force', () => {
    expect(localTime(at('2026-01-15T12:34:56Z'), 'Europe/Berlin')).toEqual({
      year: 2026,
      month: 1,
      day: 15,
      hour: 13,
      minute: 34,
      second: 56,
      offsetSeconds: 3600,
    });
    expect(localTime(at('2026-07-01T00:00:00Z'), 'America/New_York').offsetSeconds).toBe(-4 * 3600);
    expect(localTime(at('2026-07-01T00:00:00Z'), 'Asia/Kolkata').offsetSeconds).toBe(5.5 * 3600);
  });

  it('formats offsets, with seconds only when there are any', () => {
    expect(formatOffset(7200)).toBe('+02:00');
    expect(formatOffset(-5 * 3600)).toBe('-05:00');
    expect(formatOffset(5.75 * 3600)).toBe('+05:45');
    expect(formatOffset(0)).toBe('+00:00');
    expect(formatOffset(-(19 * 60 + 32))).toBe('-00:19:32');
  });

  it('finds the 2026 offset changes of Berlin and New York to the second', () => {
    const year = [at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z')] as const;
    expect(offsetTransitions('Europe/Berlin', ...year)).toEqual([
      { at: at('2026-03-29T01:00:00Z'), shiftSeconds: 3600 },
      { at: at('2026-10-25T01:00:00Z'), shiftSeconds: -3600 },
    ]);
    expect(offsetTransitions('America/New_York', ...year)).toEqual([
      { at: at('2026-03-08T07:00:00Z'), shiftSeconds: 3600 },
      { at: at('2026-11-01T06:00:00Z'), shiftSeconds: -3600 },
    ]);
    expect(offsetTransitions('UTC', ...year)).toEqual([]);
  });
});

describe('hour buckets across DST', () => {
  it('makes the repeated Berlin hour two buckets (2026-10-25)', () => {
    const keys = [0, 1, 2, 3].map(
      (h) => bucketKeys(at('2026-10-24T23:30:00Z') + h * H, 'Europe/Berlin').hourly,
    );
    expect(keys).toEqual([
      '2026-10-25T01:00+02:00',
      '2026-10-25T02:00+02:00',
      '2026-10-25T02:00+01:00',
      '2026-10-25T03:00+01:00',
    ]);
  });

  it('has no bucket for the skipped Berlin hour (2026-03-29)', () => {
    const keys = [0, 1, 2, 3].map(
      (h) => bucketKeys(at('2026-03-28T23:30:00Z') + h * H, 'Europe/Berlin').hourly,
    );
    expect(keys).toEqual([
      '2026-03-29T00:00+01:00',
      '2026-03-29T01:00+01:00',
      '2026-03-29T03:00+02:00',
      '2026-03-29T04:00+02:00',
    ]);
  });

  it('has no bucket for the skipped New York hour (2026-03-08)', () => {
    const keys = [0, 1, 2].map(
      (h) => bucketKeys(at('2026-03-08T06:15:00Z') + h * H, 'America/New_York').hourly,
    );
    expect(keys).toEqual(['2026-03-08T01:00-05:00', '2026-03-08T03:00-04:00', '2026-03-08T04:00-04:00']);
  });

  it('never puts two instants an hour apart in one hour bucket', () => {
    const from = at('2026-01-01T00:00:00Z');
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.integer({ min: 0, max: 365 * 24 * 60 }), (zone, minutes) => {
        const t = from + minutes * 60_000;
        expect(bucketKeys(t, zone).hourly).not.toBe(bucketKeys(t + H, zone).hourly);
      }),
      { numRuns: 500 },
    );
  });
});

describe('day buckets are local dates', () => {
  const halfHour = H / 2;

  it('gives the Berlin spring-forward day 23 hours and the fall-back day 25', () => {
    const spring = dayCounts(
      'Europe/Berlin',
      at('2026-03-28T12:00:00Z'),
      at('2026-03-30T12:00:00Z'),
      halfHour,
    );
    expect(spring.get('2026-03-29')).toBe(46);
    const autumn = dayCounts(
      'Europe/Berlin',
      at('2026-10-24T12:00:00Z'),
      at('2026-10-26T12:00:00Z'),
      halfHour,
    );
    expect(autumn.get('2026-10-25')).toBe(50);
  });

  it('gives the New York spring-forward day 23 hours', () => {
    const spring = dayCounts(
      'America/New_York',
      at('2026-03-07T12:00:00Z'),
      at('2026-03-09T12:00:00Z'),
      halfHour,
    );
    expect(spring.get('2026-03-08')).toBe(46);
    expect(spring.get('2026-03-07')).toBeGreaterThan(0);
  });

  it('files a late-evening UTC instant under the next local day (restic#2233)', () => {
    expect(bucketKeys(at('2026-11-20T23:30:00Z'), 'Europe/Berlin').daily).toBe('2026-11-21');
    expect(bucketKeys(at('2026-11-20T23:30:00Z'), 'UTC').daily).toBe('2026-11-20');
  });
});

describe('weeks, months and years', () => {
  it('uses ISO weeks', () => {
    expect(isoWeekKey(2026, 11, 20)).toBe('2026-W47');
    expect(isoWeekKey(2027, 1, 1)).toBe('2026-W53');
    expect(isoWeekKey(2027, 1, 4)).toBe('2027-W01');
    expect(isoWeekKey(2024, 12, 30)).toBe('2025-W01');
    expect(isoWeekKey(2021, 1, 3)).toBe('2020-W53');
  });

  it('starts a week at local Monday 00:00, not UTC', () => {
    // Monday 2026-11-23 00:30 in Berlin is still Sunday in UTC.
    const t = at('2026-11-22T23:30:00Z');
    expect(bucketKeys(t, 'Europe/Berlin')).toMatchObject({
      weekly: '2026-W48',
      monthly: '2026-11',
      yearly: '2026',
    });
    expect(bucketKeys(t, 'UTC').weekly).toBe('2026-W47');
    expect(bucketKeys(at('2026-12-31T23:30:00Z'), 'Europe/Berlin')).toMatchObject({
      daily: '2027-01-01',
      monthly: '2027-01',
      yearly: '2027',
      weekly: '2026-W53',
    });
  });

  it('agrees with the ISO definition: Monday starts a week, Jan 4 is in W01, Dec 28 in the last week', () => {
    const DAY = 86_400_000;
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1) / DAY, max: Date.UTC(2100, 0, 1) / DAY }),
        (dayNo) => {
          const d = new Date(dayNo * DAY);
          const key = (t: Date): string =>
            isoWeekKey(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
          const monday = new Date((dayNo - ((d.getUTCDay() + 6) % 7)) * DAY);
          expect(key(d)).toBe(key(monday));
          expect(key(new Date(monday.getTime() + 7 * DAY))).not.toBe(key(monday));
          const y = d.getUTCFullYear();
          expect(key(new Date(Date.UTC(y, 0, 4)))).toBe(`${y}-W01`);
          expect(key(new Date(Date.UTC(y, 11, 28)))).toMatch(new RegExp(`^${y}-W5[23]$`));
        },
      ),
      { numRuns: 300 },
    );
  });
});
