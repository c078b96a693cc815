import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decideRetention, type RetentionInput, type RetentionRules } from '../../../src/policy/retention.js';
import {
  autoSnapshotName,
  currentSlot,
  isDue,
  isValidTimeZone,
  nextSlot,
  nominalPeriodMs,
  readCostPercent,
  shortestFireIntervalMs,
  validateSchedule,
  worstCaseRetained,
  type ScheduleSpec,
} from '../../../src/policy/schedule.js';

const MIN = 60_000;
const H = 60 * MIN;
const D = 24 * H;
const at = (iso: string): number => Date.parse(iso);
const iso = (t: number | undefined): string | undefined =>
  t === undefined ? undefined : new Date(t).toISOString().replace('.000Z', 'Z');
const berlin = (cron: string): ScheduleSpec => ({ cron, timezone: 'Europe/Berlin' });
const newYork = (cron: string): ScheduleSpec => ({ cron, timezone: 'America/New_York' });

/** The next `n` fires after `from`, as ISO strings. */
function fires(spec: ScheduleSpec, from: string, n: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let t: number | undefined = at(from);
  for (let i = 0; i < n && t !== undefined; i++) out.push(iso((t = nextSlot(spec, t))));
  return out;
}

/** A timer run every `every` from `from` to `to`: it takes a snapshot whenever the schedule is due. */
function runTimer(
  spec: ScheduleSpec,
  from: string,
  to: string,
  every: number,
  existing: number[] = [],
): string[] {
  const created = [...existing];
  const taken: string[] = [];
  for (let now = at(from); now <= at(to); now += every) {
    if (isDue(spec, now, created).due) {
      created.push(now);
      taken.push(iso(now) as string);
    }
  }
  return taken;
}

describe('validateSchedule', () => {
  it('accepts five-field cron and nicknames in an IANA zone', () => {
    for (const cron of ['0 * * * *', '30 2 * * *', '*/15 9-17 * * 1-5', '0 3 L * *', '@daily', '@hourly']) {
      expect(validateSchedule(berlin(cron))).toEqual({ ok: true });
    }
    expect(isValidTimeZone('America/New_York')).toBe(true);
  });

  it('names the problem', () => {
    const message = (cron: string, timezone = 'Europe/Berlin'): string | undefined => {
      const r = validateSchedule({ cron, timezone });
      return r.ok ? undefined : r.message;
    };
    expect(message('0 * * * *', 'Mars/Olympus')).toBe(
      'unknown time zone "Mars/Olympus": expected an IANA name such as "Europe/Berlin"',
    );
    expect(message('0 * * * *', '')).toMatch(/^unknown time zone ""/);
    expect(message('61 * * * *')).toBe('invalid cron "61 * * * *": Invalid value for minute: 61');
    expect(message('0 25 * * *')).toMatch(/^invalid cron "0 25 \* \* \*": .*hour/);
    expect(message('0 0 * * * *')).toBe(
      'cron "0 0 * * * *" has 6 field(s); expected 5 (minute hour day-of-month month day-of-week)',
    );
    expect(message('every hour')).toMatch(/has 2 field\(s\)/);
    expect(message('0 0 30 2 *')).toBe('cron "0 0 30 2 *" never fires');
    expect(message('@reboot')).toMatch(/^invalid cron "@reboot"/);
  });

  it('makes the evaluating functions throw the same message', () => {
    expect(() => currentSlot(berlin('61 * * * *'), 0)).toThrow(/invalid cron "61 \* \* \* \*"/);
    expect(() => isDue({ cron: '0 * * * *', timezone: 'Nowhere' }, 0, [])).toThrow(/unknown time zone/);
  });
});

describe('slots across DST', () => {
  it('fires a daily 02:30 at the first valid instant after the Berlin spring jump', () => {
    expect(fires(berlin('30 2 * * *'), '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00Z', // 02:30 CET
      '2026-03-29T01:00:00Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00Z', // 02:30 CEST
    ]);
  });

  it('fires a daily 02:30 once, at its first occurrence, on the Berlin fall-back day', () => {
    expect(fires(berlin('30 2 * * *'), '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00Z', // 02:30 CEST; 02:30 CET (01:30Z) does not fire
      '2026-10-26T01:30:00Z',
    ]);
    expect(iso(currentSlot(berlin('30 2 * * *'), at('2026-10-25T01:45:00Z')))).toBe('2026-10-25T00:30:00Z');
  });

  it('fires a daily 02:30 after the New York spring jump, and 01:30 once in its fall-back', () => {
    expect(fires(newYork('30 2 * * *'), '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:00:00Z', // 03:00 EDT
      '2026-03-09T06:30:00Z',
      '2026-03-10T06:30:00Z',
    ]);
    expect(fires(newYork('30 1 * * *'), '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00Z', // 01:30 EDT only
      '2026-11-02T06:30:00Z',
    ]);
  });

  it('fires an hourly job in both passes of the repeated hour and skips the missing one', () => {
    expect(fires(berlin('0 * * * *'), '2026-10-24T22:30:00Z', 4)).toEqual([
      '2026-10-24T23:00:00Z',
      '2026-10-25T00:00:00Z', // 02:00 CEST
      '2026-10-25T01:00:00Z', // 02:00 CET
      '2026-10-25T02:00:00Z',
    ]);
    expect(fires(berlin('0 * * * *'), '2026-03-28T23:30:00Z', 2)).toEqual([
      '2026-03-29T00:00:00Z', // 01:00 CET
      '2026-03-29T01:00:00Z', // 03:00 CEST
    ]);
  });

  it('treats a list of fixed times as fixed times, so none is skipped by the jump', () => {
    expect(fires(berlin('30 2,14 * * *'), '2026-03-28T12:00:00Z', 3)).toEqual([
      '2026-03-28T13:30:00Z',
      '2026-03-29T01:00:00Z',
      '2026-03-29T12:30:00Z',
    ]);
  });
});

describe('currentSlot and nextSlot', () => {
  const hourly = { cron: '0 * * * *', timezone: 'UTC' };

  it('includes a fire at now in the slot and excludes it from next', () => {
    expect(iso(currentSlot(hourly, at('2026-01-01T05:00:00Z')))).toBe('2026-01-01T05:00:00Z');
    expect(iso(currentSlot(hourly, at('2026-01-01T05:00:00Z') - 1))).toBe('2026-01-01T04:00:00Z');
    expect(iso(nextSlot(hourly, at('2026-01-01T05:00:00Z')))).toBe('2026-01-01T06:00:00Z');
    expect(iso(nextSlot(hourly, at('2026-01-01T05:00:00Z') - 1))).toBe('2026-01-01T05:00:00Z');
    expect(iso(nextSlot(hourly, at('2026-01-01T05:00:00Z') + 500))).toBe('2026-01-01T06:00:00Z');
  });

  it('agree with each other everywhere, DST changes included', () => {
    const specs = ['0 * * * *', '30 2 * * *', '*/20 1-3 * * *', '0,59 */2 * * *', '15 2 * * 0', '0 0 1 * *'];
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'UTC'];
    const windows = [
      '2026-03-29T01:00:00Z',
      '2026-10-25T01:00:00Z',
      '2026-03-08T07:00:00Z',
      '2026-04-05T15:30:00Z',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        fc.constantFrom(...zones),
        fc.constantFrom(...windows),
        fc.integer({ min: -3 * D, max: 3 * D }),
        (cron, timezone, window, offset) => {
          const spec = { cron, timezone };
          const now = at(window) + offset;
          const slot = currentSlot(spec, now) as number;
          expect(slot).toBeLessThanOrEqual(now);
          expect(nextSlot(spec, slot)).toBeGreaterThan(now); // no fire in (slot, now]
          const next = nextSlot(spec, now) as number;
          expect(next).toBeGreaterThan(now);
          expect(currentSlot(spec, next)).toBe(next);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('isDue', () => {
  it('catches up with one snapshot after a long downtime, never a backfill', () => {
    const spec = berlin('0 * * * *');
    const lastBefore = at('2026-11-01T00:00:00Z');
    expect(isDue(spec, at('2026-11-11T09:17:00Z'), [lastBefore])).toEqual({
      due: true,
      slot: at('2026-11-11T09:00:00Z'),
    });
    expect(isDue(spec, at('2026-11-11T09:57:00Z'), [lastBefore, at('2026-11-11T09:17:00Z')]).due).toBe(false);
    expect(runTimer(spec, '2026-11-11T09:17:00Z', '2026-11-11T12:30:00Z', 5 * MIN, [lastBefore])).toEqual([
      '2026-11-11T09:17:00Z',
      '2026-11-11T10:02:00Z',
      '2026-11-11T11:02:00Z',
      '2026-11-11T12:02:00Z',
    ]);
  });

  it('takes one snapshot for a repeated time', () => {
    const taken = runTimer(berlin('30 2 * * *'), '2026-10-24T22:00:00Z', '2026-10-25T04:00:00Z', 10 * MIN, [
      at('2026-10-24T00:30:00Z'),
    ]);
    expect(taken).toEqual(['2026-10-25T00:30:00Z']);
  });

  it('takes the skipped time right after the jump', () => {
    expect(
      runTimer(berlin('30 2 * * *'), '2026-03-28T22:00:00Z', '2026-03-29T04:00:00Z', 10 * MIN, [
        at('2026-03-28T01:30:00Z'),
      ]),
    ).toEqual(['2026-03-29T01:00:00Z']);
    expect(
      runTimer(newYork('30 2 * * *'), '2026-03-08T04:00:00Z', '2026-03-08T10:00:00Z', 10 * MIN, [
        at('2026-03-07T07:30:00Z'),
      ]),
    ).toEqual(['2026-03-08T07:00:00Z']);
  });

  it('counts a snapshot dated after now (a clock behind) as taken', () => {
    expect(isDue(berlin('0 * * * *'), at('2026-11-11T09:30:00Z'), [at('2026-11-11T10:05:00Z')]).due).toBe(
      false,
    );
  });

  it('is not due before the first fire ever', () => {
    expect(isDue({ cron: '0 0 1 1 *', timezone: 'UTC' }, -1e15, [])).toEqual({ due: false });
  });
});

describe('nominalPeriodMs, autoSnapshotName', () => {
  it('gives the typical gap between fires', () => {
    expect(nominalPeriodMs(berlin('0 * * * *'), at('2026-10-25T00:30:00Z'))).toBe(H);
    expect(nominalPeriodMs(berlin('30 2 * * *'), at('2026-03-28T00:00:00Z'))).toBe(D);
    expect(nominalPeriodMs(berlin('0 2 * * 1-5'), at('2026-01-01T00:00:00Z'))).toBe(D);
    expect(nominalPeriodMs(berlin('*/15 * * * *'), at('2026-01-01T00:00:00Z'))).toBe(15 * MIN);
    expect(nominalPeriodMs(berlin('0 0 * * 0'), at('2026-01-01T00:00:00Z'))).toBe(7 * D);
  });

  it('names auto snapshots in UTC to the minute', () => {
    expect(autoSnapshotName(at('2026-11-20T14:05:59.999Z'))).toBe('auto-20261120T1405Z');
    expect(autoSnapshotName(at('2026-01-02T03:04:00Z'))).toMatch(/^[A-Za-z][A-Za-z0-9_-]{0,39}$/);
    expect(() => autoSnapshotName(Number.NaN)).toThrow(RangeError);
  });
});

describe('purity', () => {
  afterEach(() => void vi.useRealTimers());

  it('gives the same answers whatever the system clock says', () => {
    const spec = berlin('30 2 * * *');
    const now = at('2026-10-25T01:45:00Z');
    const snaps: RetentionInput[] = [0, 1, 2, 3].map((i) => ({
      id: `s${i}`,
      created: now - i * D,
      kind: 'auto',
      complete: true,
    }));
    const all = (): unknown => [
      currentSlot(spec, now),
      nextSlot(spec, now),
      isDue(spec, now, [now - D]),
      nominalPeriodMs(spec, now),
      decideRetention(snaps, { daily: 2, within: D }, { timezone: spec.timezone, now }),
    ];
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('1999-01-01T00:00:00Z'));
    const early = all();
    vi.setSystemTime(new Date('2040-06-01T12:00:00Z'));
    expect(all()).toEqual(early);
  });
});

describe('read cost of chain depth', () => {
  it('matches the measurements and grows towards 100 %', () => {
    expect(readCostPercent(1)).toBe(0);
    expect(readCostPercent(0)).toBe(0);
    expect(readCostPercent(4)).toBeCloseTo(1.7, 1);
    expect(readCostPercent(16)).toBeCloseTo(23.2, 1);
    expect(readCostPercent(64)).toBeCloseTo(85.9, 1);
    let previous = 0;
    for (let d = 2; d <= 400; d++) {
      const cost = readCostPercent(d);
      expect(cost).toBeGreaterThan(previous);
      expect(cost).toBeLessThan(100);
      previous = cost;
    }
  });
});

describe('worst-case retained count', () => {
  it('computes the bound for the DESIGN example', () => {
    const rules = { last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 6 };
    // max(1, 3) + (24 − 1) + (7 − 1) + (4 − 1) + (6 − 1), plus one pinned snapshot.
    expect(worstCaseRetained(rules, berlin('0 * * * *'), 1)).toBe(41);
    expect(worstCaseRetained(rules, undefined, 0)).toBe(40);
  });

  it('bounds within by the shortest gap between fires', () => {
    // ceil((24h + 5m skew) / 1h) + 1
    expect(worstCaseRetained({ within: D }, berlin('0 * * * *'), 0)).toBe(26);
    expect(worstCaseRetained({ within: D, last: 30 }, berlin('0 * * * *'), 0)).toBe(30);
    expect(worstCaseRetained({ within: 7 * D }, berlin('30 2 * * *'), 0)).toBe(9); // shortest gap 23.5h
  });

  it('is unbounded when nothing limits it', () => {
    expect(worstCaseRetained({}, berlin('0 * * * *'), 0)).toBe('unbounded');
    expect(worstCaseRetained({ within: D }, undefined, 0)).toBe('unbounded');
  });

  it('finds the gaps DST shortens', () => {
    expect(shortestFireIntervalMs(berlin('30 2 * * *'))).toBe(23.5 * H);
    expect(shortestFireIntervalMs({ cron: '30 2 * * *', timezone: 'UTC' })).toBe(D);
    expect(shortestFireIntervalMs(berlin('0 0 * * 0'))).toBe(23 * H); // weekly, bounded as if daily
    // 02:59 CEST, then 02:00 CET a minute later: both passes of the repeated hour fire.
    expect(shortestFireIntervalMs(berlin('0,59 */2 * * *'))).toBe(MIN);
    expect(shortestFireIntervalMs({ cron: '0,59 */2 * * *', timezone: 'UTC' })).toBe(59 * MIN);
    expect(shortestFireIntervalMs(berlin('0 */2 * * *'))).toBe(H);
  });

  it('is reached by hourly snapshots under hourly and daily rules', () => {
    const spec = berlin('0 * * * *');
    const rules = { hourly: 5, daily: 3 };
    let snaps: RetentionInput[] = [];
    let most = 0;
    for (let t = at('2026-11-01T00:00:00Z'); t < at('2026-11-05T00:00:00Z'); t += H) {
      snaps.push({ id: `a${t}`, created: t, kind: 'auto', complete: true });
      const r = decideRetention(snaps, rules, { timezone: spec.timezone, now: t });
      const gone = new Set(r.decisions.filter((d) => d.action === 'delete').map((d) => d.id));
      snaps = snaps.filter((s) => !gone.has(s.id));
      most = Math.max(most, snaps.length);
    }
    expect(most).toBe(worstCaseRetained(rules, spec, 0));
  });

  it('is never exceeded by any schedule, downtime, failure and retention history', () => {
    const schedules = [
      '0 * * * *',
      '*/20 * * * *',
      '30 2 * * *',
      '0,59 */2 * * *',
      '0 9-17 * * 1-5',
      '0 0 * * 0',
    ];
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'UTC'];
    const starts = [
      '2026-03-27T00:00:00Z',
      '2026-10-23T00:00:00Z',
      '2026-03-06T00:00:00Z',
      '2026-10-30T00:00:00Z',
    ];
    const arbRules: fc.Arbitrary<RetentionRules> = fc.record(
      {
        last: fc.integer({ min: 0, max: 3 }),
        within: fc.integer({ min: 0, max: 16 }).map((h) => h * H),
        hourly: fc.integer({ min: 0, max: 5 }),
        daily: fc.integer({ min: 0, max: 4 }),
        weekly: fc.integer({ min: 0, max: 2 }),
        monthly: fc.integer({ min: 0, max: 2 }),
      },
      { requiredKeys: [] },
    );
    // Timer runs: mostly frequent (late and early in slots), some long outages.
    const arbRun = fc.record({
      gap: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 40 }), weight: 6 },
        { arbitrary: fc.integer({ min: 40, max: 8 * 60 }), weight: 2 },
        { arbitrary: fc.integer({ min: 8 * 60, max: 6 * 24 * 60 }), weight: 1 },
      ),
      snapshotFails: fc.oneof(
        { arbitrary: fc.constant(false), weight: 3 },
        { arbitrary: fc.constant(true), weight: 1 },
      ),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...schedules),
        fc.constantFrom(...zones),
        fc.constantFrom(...starts),
        arbRules,
        fc.integer({ min: 0, max: 2 }),
        fc.array(arbRun, { minLength: 20, maxLength: 150 }),
        (cron, timezone, start, rules, pinnedCount, runs) => {
          fc.pre(Object.values(rules).some((v) => (v ?? 0) > 0));
          const spec = { cron, timezone };
          const bound = worstCaseRetained(rules, spec, pinnedCount);
          if (bound === 'unbounded') throw new Error('a non-empty policy with a schedule is bounded');
          let now = at(start);
          let snaps: RetentionInput[] = Array.from({ length: pinnedCount }, (_, i) => ({
            id: `pinned${i}`,
            created: now - (i + 1) * D,
            kind: 'pinned' as const,
            complete: true,
          }));
          for (const run of runs) {
            now += run.gap * MIN;
            const autos = snaps.filter((s) => s.kind === 'auto').map((s) => s.created);
            const due = isDue(spec, now, autos).due;
            if (due && !run.snapshotFails)
              snaps.push({ id: `auto${now}`, created: now, kind: 'auto', complete: true });
            const r = decideRetention(snaps, rules, {
              timezone,
              now,
              conservative: due && run.snapshotFails,
            });
            expect(r.status).toBe('ok');
            const gone = new Set(r.decisions.filter((d) => d.action === 'delete').map((d) => d.id));
            snaps = snaps.filter((s) => !gone.has(s.id));
            expect(snaps.length).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
