import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketKeys, CALENDAR_RULES } from '../../../src/policy/calendar.js';
import {
  CLOCK_SKEW_TOLERANCE_MS,
  decideRetention,
  type RetentionInput,
  type RetentionOptions,
  type RetentionResult,
  type RetentionRules,
} from '../../../src/policy/retention.js';
import { formatDurationExact as formatDuration } from '../../../src/base/durations.js';

const MIN = 60_000;
const H = 60 * MIN;
const D = 24 * H;
const BERLIN = 'Europe/Berlin';
const at = (iso: string): number => Date.parse(iso);
const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z');

/** A complete auto snapshot whose id is its creation instant, for readable assertions. */
const snap = (created: number, over: Partial<RetentionInput> = {}): RetentionInput => ({
  id: iso(created),
  created,
  kind: 'auto',
  complete: true,
  ...over,
});

/** Snapshots every `step` from `from` to `to` inclusive. */
function series(from: string, to: string, step: number): RetentionInput[] {
  const out: RetentionInput[] = [];
  for (let t = at(from); t <= at(to); t += step) out.push(snap(t));
  return out;
}

const ids = (r: RetentionResult, action: 'keep' | 'delete'): string[] =>
  r.decisions
    .filter((d) => d.action === action)
    .map((d) => d.id)
    .sort();
const reasonsOf = (r: RetentionResult, id: string): string[] | undefined =>
  r.decisions.find((d) => d.id === id)?.reasons;

describe('calendar rules across DST (Europe/Berlin, America/New_York)', () => {
  it('keeps a representative of both passes of the repeated hour (2026-10-25)', () => {
    // Every 30 minutes: each hour bucket holds two, and keeps the later one.
    const r = decideRetention(
      series('2026-10-24T22:00:00Z', '2026-10-25T03:30:00Z', 30 * MIN),
      { hourly: 48 },
      {
        timezone: BERLIN,
        now: at('2026-10-25T04:00:00Z'),
      },
    );
    expect(r.status).toBe('ok');
    expect(ids(r, 'keep')).toEqual(
      ['22:30', '23:30']
        .map((t) => `2026-10-24T${t}:00Z`)
        .concat(['00:30', '01:30', '02:30', '03:30'].map((t) => `2026-10-25T${t}:00Z`)),
    );
    expect(reasonsOf(r, '2026-10-25T00:30:00Z')).toEqual(['hourly 2026-10-25T02:00+02:00']);
    expect(reasonsOf(r, '2026-10-25T01:30:00Z')).toEqual(['hourly 2026-10-25T02:00+01:00']);
    expect(reasonsOf(r, '2026-10-25T01:00:00Z')).toEqual(['expired']);
  });

  it('with hourly: 48 and 48 hourly snapshots keeps all, 02:00 CEST and 02:00 CET included', () => {
    const snaps = series('2026-10-24T02:00:00Z', '2026-10-26T01:00:00Z', H);
    expect(snaps).toHaveLength(48);
    const opts = { timezone: BERLIN, now: at('2026-10-26T01:30:00Z') };
    const all = decideRetention(snaps, { hourly: 48 }, opts);
    expect(ids(all, 'delete')).toEqual([]);
    expect(reasonsOf(all, '2026-10-25T00:00:00Z')).toEqual(['hourly 2026-10-25T02:00+02:00']);
    expect(reasonsOf(all, '2026-10-25T01:00:00Z')).toEqual(['hourly 2026-10-25T02:00+01:00']);
    // One bucket fewer drops exactly the oldest: 48 distinct buckets, none merged.
    expect(ids(decideRetention(snaps, { hourly: 47 }, opts), 'delete')).toEqual(['2026-10-24T02:00:00Z']);
  });

  it('has no bucket for the skipped hour (2026-03-29)', () => {
    const r = decideRetention(
      series('2026-03-28T23:00:00Z', '2026-03-29T02:30:00Z', 30 * MIN),
      { hourly: 48 },
      {
        timezone: BERLIN,
        now: at('2026-03-29T03:00:00Z'),
      },
    );
    expect(r.decisions.filter((d) => d.action === 'keep').map((d) => d.reasons)).toEqual([
      ['hourly 2026-03-29T04:00+02:00'],
      ['hourly 2026-03-29T03:00+02:00'],
      ['hourly 2026-03-29T01:00+01:00'],
      ['hourly 2026-03-29T00:00+01:00'],
    ]);
  });

  it('buckets the 23-hour spring day by local date', () => {
    const r = decideRetention(
      series('2026-03-27T23:00:00Z', '2026-03-30T21:30:00Z', 30 * MIN),
      { daily: 10 },
      {
        timezone: BERLIN,
        now: at('2026-03-30T22:00:00Z'),
      },
    );
    // The last snapshot of each local day: 23:30 CET, 23:30 CEST on the short day, 23:30 CEST.
    expect(r.decisions.filter((d) => d.action === 'keep').map((d) => [d.id, d.reasons])).toEqual([
      ['2026-03-30T21:30:00Z', ['daily 2026-03-30']],
      ['2026-03-29T21:30:00Z', ['daily 2026-03-29']],
      ['2026-03-28T22:30:00Z', ['daily 2026-03-28']],
    ]);
  });

  it('buckets the 25-hour autumn day by local date', () => {
    const r = decideRetention(
      series('2026-10-23T22:00:00Z', '2026-10-26T22:30:00Z', 30 * MIN),
      { daily: 10 },
      {
        timezone: BERLIN,
        now: at('2026-10-26T23:00:00Z'),
      },
    );
    expect(r.decisions.filter((d) => d.action === 'keep').map((d) => [d.id, d.reasons])).toEqual([
      ['2026-10-26T22:30:00Z', ['daily 2026-10-26']],
      ['2026-10-25T22:30:00Z', ['daily 2026-10-25']],
      ['2026-10-24T21:30:00Z', ['daily 2026-10-24']],
    ]);
  });

  it('handles the New York spring change (2026-03-08)', () => {
    const r = decideRetention(
      series('2026-03-07T05:00:00Z', '2026-03-09T03:00:00Z', H),
      { daily: 5, hourly: 3 },
      { timezone: 'America/New_York', now: at('2026-03-09T03:00:00Z') },
    );
    expect(reasonsOf(r, '2026-03-08T04:00:00Z')).toEqual(['daily 2026-03-07']); // 23:00 EST
    expect(reasonsOf(r, '2026-03-09T03:00:00Z')).toEqual([
      'hourly 2026-03-08T23:00-04:00',
      'daily 2026-03-08',
    ]);
    expect(ids(r, 'keep')).toEqual([
      '2026-03-08T04:00:00Z',
      '2026-03-09T01:00:00Z',
      '2026-03-09T02:00:00Z',
      '2026-03-09T03:00:00Z',
    ]);
    // Around the jump: 01:00 EST is 06:00Z and the next hour is 03:00 EDT.
    const jump = decideRetention(
      series('2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z', H),
      { hourly: 5 },
      {
        timezone: 'America/New_York',
        now: at('2026-03-08T08:00:00Z'),
      },
    );
    expect(jump.decisions.map((d) => d.reasons)).toEqual([
      ['hourly 2026-03-08T03:00-04:00'],
      ['hourly 2026-03-08T01:00-05:00'],
    ]);
  });
});

describe('downtime', () => {
  const dailies = series('2026-11-01T01:30:00Z', '2026-11-10T01:30:00Z', D); // 02:30 Berlin

  it('daily: 7 keeps the 7 newest, however long the gap since', () => {
    for (const now of ['2026-11-10T12:00:00Z', '2026-12-10T12:00:00Z', '2027-06-01T00:00:00Z']) {
      const r = decideRetention(dailies, { daily: 7 }, { timezone: BERLIN, now: at(now) });
      expect(ids(r, 'delete')).toEqual([
        '2026-11-01T01:30:00Z',
        '2026-11-02T01:30:00Z',
        '2026-11-03T01:30:00Z',
      ]);
    }
  });

  it('lets within age out while the count rules still hold', () => {
    const rules = { daily: 7, within: 3 * D };
    const soon = decideRetention(dailies, rules, { timezone: BERLIN, now: at('2026-11-10T12:00:00Z') });
    const late = decideRetention(dailies, rules, { timezone: BERLIN, now: at('2026-12-10T12:00:00Z') });
    expect(reasonsOf(soon, '2026-11-09T01:30:00Z')).toEqual(['within 3d', 'daily 2026-11-09']);
    expect(reasonsOf(late, '2026-11-09T01:30:00Z')).toEqual(['daily 2026-11-09']);
    expect(ids(late, 'keep')).toEqual(ids(soon, 'keep'));
  });
});

describe('conservative mode (the snapshot step failed)', () => {
  const dailies = series('2026-11-01T01:30:00Z', '2026-11-10T01:30:00Z', D);
  const rules = { last: 2, within: 3 * D };
  const lastGoodRun = { timezone: BERLIN, now: at('2026-11-10T01:30:00Z') };
  const later = { timezone: BERLIN, now: at('2026-11-30T12:00:00Z') };

  it('measures within from the newest snapshot, so nothing ages out while none arrive', () => {
    const before = decideRetention(dailies, rules, lastGoodRun);
    const conservative = decideRetention(dailies, rules, { ...later, conservative: true });
    const normal = decideRetention(dailies, rules, later);
    expect(ids(before, 'keep')).toEqual([
      '2026-11-08T01:30:00Z',
      '2026-11-09T01:30:00Z',
      '2026-11-10T01:30:00Z',
    ]);
    expect(ids(conservative, 'keep')).toEqual(ids(before, 'keep'));
    expect(reasonsOf(conservative, '2026-11-08T01:30:00Z')).toEqual(['within 3d of newest']);
    // A normal run lets the window pass: only last 2 remain.
    expect(ids(normal, 'keep')).toEqual(['2026-11-09T01:30:00Z', '2026-11-10T01:30:00Z']);
  });

  it('still applies the count and calendar rules', () => {
    const r = decideRetention(dailies, { daily: 4 }, { ...later, conservative: true });
    expect(ids(r, 'keep')).toHaveLength(4);
  });
});

describe('reasons and floors', () => {
  it('lists every rule that keeps a snapshot', () => {
    const r = decideRetention(
      series('2026-11-17T14:00:00Z', '2026-11-20T14:00:00Z', H),
      { last: 3, within: 36 * H, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 2 },
      { timezone: BERLIN, now: at('2026-11-20T14:10:00Z') },
    );
    expect(reasonsOf(r, '2026-11-20T14:00:00Z')).toEqual([
      'last 3',
      'within 36h',
      'hourly 2026-11-20T15:00+01:00',
      'daily 2026-11-20',
      'weekly 2026-W47',
      'monthly 2026-11',
      'yearly 2026',
    ]);
    expect(reasonsOf(r, '2026-11-19T22:00:00Z')).toEqual([
      'within 36h',
      'hourly 2026-11-19T23:00+01:00',
      'daily 2026-11-19',
    ]);
    expect(reasonsOf(r, '2026-11-17T14:00:00Z')).toEqual(['expired']);
  });

  it('keeps the newest under guard:minKeep when no rule does', () => {
    const r = decideRetention(
      series('2026-11-01T00:00:00Z', '2026-11-03T00:00:00Z', D),
      { within: H },
      {
        timezone: BERLIN,
        now: at('2026-11-20T00:00:00Z'),
      },
    );
    expect(r.decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['2026-11-03T00:00:00Z', ['guard:minKeep']],
      ['2026-11-02T00:00:00Z', ['expired']],
      ['2026-11-01T00:00:00Z', ['expired']],
    ]);
  });

  it('treats a policy without positive rules as keep-everything, with a warning', () => {
    const snaps = series('2026-11-01T00:00:00Z', '2026-11-05T00:00:00Z', D);
    for (const rules of [{}, { last: 0, daily: 0, within: 0 }] satisfies RetentionRules[]) {
      const r = decideRetention(snaps, rules, { timezone: BERLIN, now: at('2026-11-06T00:00:00Z') });
      expect(r.decisions.every((d) => d.action === 'keep' && d.reasons.join() === 'policy:empty')).toBe(true);
      expect(r.warnings).toEqual([expect.stringContaining('no rule')]);
    }
  });

  it('lets pinned, foreign and incomplete snapshots neither fill nor take a bucket', () => {
    const day = (h: number): number => at('2026-11-20T00:00:00Z') + h * H;
    const snaps = [
      snap(day(-24)),
      snap(day(8)),
      snap(day(10), { id: 'partial', complete: false }),
      snap(day(11), { id: 'pre-upgrade', kind: 'pinned' }),
      snap(day(12), { id: 'pve-snap', kind: 'foreign' }),
      snap(day(-48), { id: 'old-pinned', kind: 'pinned' }),
    ];
    const r = decideRetention(snaps, { daily: 1 }, { timezone: BERLIN, now: day(13) });
    expect(r.decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['pve-snap', ['foreign']],
      ['pre-upgrade', ['pinned']],
      ['partial', ['incomplete']],
      ['2026-11-20T08:00:00Z', ['daily 2026-11-20']],
      ['2026-11-19T00:00:00Z', ['expired']],
      ['old-pinned', ['pinned']],
    ]);
  });

  it('keeps a future-dated snapshot out of the rules, warns, and refuses to prune on it', () => {
    const now = at('2026-11-20T12:00:00Z');
    const snaps = [snap(now - 2 * H), snap(now - H), snap(now + H, { id: 'ahead' })];
    const forced = decideRetention(snaps, { last: 1 }, { timezone: BERLIN, now, allowMassDelete: true });
    expect(forced.status).toBe('ok');
    expect(forced.decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['ahead', ['future-dated']],
      ['2026-11-20T11:00:00Z', ['last 1']],
      ['2026-11-20T10:00:00Z', ['expired']],
    ]);
    expect(forced.warnings).toEqual([
      expect.stringContaining('snapshot ahead is dated 2026-11-20T13:00:00.000Z'),
      expect.stringContaining('guard overridden'),
    ]);
    const guarded = decideRetention(snaps, { last: 1 }, { timezone: BERLIN, now });
    expect(guarded.status).toBe('refused');
    expect(ids(guarded, 'delete')).toEqual([]);
  });

  it('treats a snapshot within the skew tolerance as present', () => {
    const now = at('2026-11-20T12:00:00Z');
    const r = decideRetention(
      [snap(now - H), snap(now + CLOCK_SKEW_TOLERANCE_MS - MIN)],
      { last: 1 },
      {
        timezone: BERLIN,
        now,
      },
    );
    expect(r.status).toBe('ok');
    expect(r.decisions.map((d) => d.reasons)).toEqual([['last 1'], ['expired']]);
  });

  it('formats durations the way config writes them', () => {
    expect([36 * H, 7 * D, 90 * MIN, 14 * D, 1500].map(formatDuration)).toEqual([
      '36h',
      '7d',
      '90m',
      '14d',
      '1500ms',
    ]);
  });

  it('rejects malformed input instead of guessing', () => {
    const opts = { timezone: BERLIN, now: at('2026-11-20T00:00:00Z') };
    const s = snap(at('2026-11-19T00:00:00Z'));
    expect(() => decideRetention([s, s], { last: 1 }, opts)).toThrow(/appears twice/);
    expect(() => decideRetention([s], { last: -1 }, opts)).toThrow(/last must be a non-negative/);
    expect(() => decideRetention([s], { daily: 1.5 }, opts)).toThrow(/daily/);
    expect(() => decideRetention([s], { last: 1 }, { ...opts, timezone: 'Berlin' })).toThrow(
      /unknown time zone "Berlin"/,
    );
    expect(() => decideRetention([{ ...s, created: Number.NaN }], { last: 1 }, opts)).toThrow(
      /creation instant/,
    );
  });
});

describe('guards', () => {
  const forty = series('2026-11-20T00:00:00Z', '2026-11-21T15:00:00Z', H);
  const opts = { timezone: BERLIN, now: at('2026-11-21T15:30:00Z') };

  it('refuses a change that would delete 30 with maxDeletesPerRun: 10, and deletes nothing', () => {
    expect(forty).toHaveLength(40);
    const r = decideRetention(forty, { hourly: 10 }, { ...opts, maxDeletesPerRun: 10 });
    expect(r.status).toBe('refused');
    if (r.status !== 'refused') return;
    expect(r.refusal.code).toBe('max_deletes_exceeded');
    expect(r.refusal.message).toContain('would delete 30 snapshots, more than maxDeletesPerRun (10)');
    expect(r.decisions.every((d) => d.action === 'keep')).toBe(true);
    const saved = r.decisions.filter((d) => d.action === 'keep' && d.refusedDelete);
    expect(saved).toHaveLength(30);
    expect(saved.every((d) => d.reasons.join() === 'guard:refused')).toBe(true);
  });

  it('allows exactly maxDeletesPerRun, and more only with allowMassDelete', () => {
    expect(
      ids(decideRetention(forty, { hourly: 10 }, { ...opts, maxDeletesPerRun: 30 }), 'delete'),
    ).toHaveLength(30);
    const forced = decideRetention(
      forty,
      { hourly: 10 },
      { ...opts, maxDeletesPerRun: 10, allowMassDelete: true },
    );
    expect(forced.status).toBe('ok');
    expect(ids(forced, 'delete')).toHaveLength(30);
    expect(forced.warnings).toEqual([expect.stringContaining('maxDeletesPerRun (10)')]);
  });

  it('refuses when the clock is behind the newest snapshot', () => {
    const newest = at('2026-11-21T15:00:00Z');
    const behind = decideRetention(forty, { last: 1 }, { timezone: BERLIN, now: newest - 10 * MIN });
    expect(behind.status).toBe('refused');
    if (behind.status === 'refused') expect(behind.refusal.code).toBe('clock_behind');
    expect(ids(behind, 'delete')).toEqual([]);
    const skewed = decideRetention(forty, { last: 1 }, { timezone: BERLIN, now: newest - 4 * MIN });
    expect(skewed.status).toBe('ok');
    expect(ids(skewed, 'delete')).toHaveLength(39);
  });
});

// ---- laws -------------------------------------------------------------------------------------

const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'UTC',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'America/Sao_Paulo',
];
// Near DST changes, month and year ends, and an ordinary day.
const ANCHORS = [
  '2026-03-29T01:00:00Z',
  '2026-10-25T01:00:00Z',
  '2026-03-08T07:00:00Z',
  '2026-11-01T06:00:00Z',
  '2026-04-05T15:00:00Z',
  '2026-12-31T23:00:00Z',
  '2026-06-15T12:00:00Z',
].map(at);

interface Case {
  snapshots: RetentionInput[];
  rules: RetentionRules;
  opts: RetentionOptions;
}

const arbAnyRules: fc.Arbitrary<RetentionRules> = fc.record(
  {
    last: fc.integer({ min: 0, max: 4 }),
    within: fc.integer({ min: 0, max: 72 }).map((h) => h * H),
    hourly: fc.integer({ min: 0, max: 6 }),
    daily: fc.integer({ min: 0, max: 5 }),
    weekly: fc.integer({ min: 0, max: 3 }),
    monthly: fc.integer({ min: 0, max: 3 }),
    yearly: fc.integer({ min: 0, max: 2 }),
  },
  { requiredKeys: [] },
);
// Within-only policies are the ones where minKeep has work to do, so they get a share of their own.
const arbRules: fc.Arbitrary<RetentionRules> = fc.oneof(
  { arbitrary: arbAnyRules, weight: 4 },
  { arbitrary: fc.record({ within: fc.integer({ min: 1, max: 72 }).map((h) => h * H) }), weight: 1 },
);

// Quarter-hour grid so equal instants (ties broken by id) happen; dense near the anchor, sparse far back.
const arbOffset = fc
  .oneof(fc.integer({ min: -16 * 60, max: 6 * 60 }), fc.integer({ min: -150 * 24 * 60, max: 24 * 60 }))
  .map((m) => (m - (m % 15)) * MIN);

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    anchor: fc.constantFrom(...ANCHORS),
    items: fc.array(
      fc.record({
        offset: arbOffset,
        kind: fc.constantFrom('auto', 'auto', 'auto', 'auto', 'auto', 'pinned', 'foreign'),
        complete: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(true), fc.constant(false)),
      }),
      { maxLength: 80, size: 'max' },
    ),
    rules: arbRules,
    zone: fc.constantFrom(...ZONES),
    nowOffset: fc.oneof(
      fc.integer({ min: -4 * 60, max: 12 * 60 }),
      fc.integer({ min: 0, max: 60 * 24 * 60 }),
    ),
    maxDeletesPerRun: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
    conservative: fc.boolean(),
    allowMassDelete: fc.boolean(),
  })
  .map(({ anchor, items, rules, zone, nowOffset, ...flags }) => ({
    snapshots: items.map((s, i) => ({
      id: `s${String(i).padStart(2, '0')}`,
      created: anchor + s.offset,
      kind: s.kind,
      complete: s.complete,
    })),
    rules,
    opts: { timezone: zone, now: anchor + nowOffset * MIN, ...flags },
  }));

const RUNS = { numRuns: 300 };
const isEligible = (s: RetentionInput, now: number): boolean =>
  s.kind === 'auto' && s.complete && s.created <= now + CLOCK_SKEW_TOLERANCE_MS;
const deletedIds = (r: RetentionResult): Set<string> =>
  new Set(r.decisions.filter((d) => d.action === 'delete').map((d) => d.id));
const nonEmpty = (rules: RetentionRules): boolean => Object.values(rules).some((v) => (v ?? 0) > 0);

describe('laws', () => {
  it('does not depend on input order', () => {
    fc.assert(
      fc.property(
        arbCase.chain((c) =>
          fc.shuffledSubarray(c.snapshots, { minLength: c.snapshots.length }).map((p) => [c, p] as const),
        ),
        ([c, permuted]) => {
          expect(decideRetention(permuted, c.rules, c.opts)).toEqual(
            decideRetention(c.snapshots, c.rules, c.opts),
          );
        },
      ),
      RUNS,
    );
  });

  it('is idempotent: re-running on what it kept deletes nothing and decides the same', () => {
    fc.assert(
      fc.property(arbCase, ({ snapshots, rules, opts }) => {
        const first = decideRetention(snapshots, rules, opts);
        const gone = deletedIds(first);
        const second = decideRetention(
          snapshots.filter((s) => !gone.has(s.id)),
          rules,
          opts,
        );
        expect(deletedIds(second).size).toBe(0);
        if (first.status === 'ok')
          expect(second.decisions).toEqual(first.decisions.filter((d) => !gone.has(d.id)));
      }),
      RUNS,
    );
  });

  it('never deletes more when a rule is added or a count raised', () => {
    fc.assert(
      fc.property(arbCase, arbRules, ({ snapshots, rules, opts }, extra) => {
        fc.pre(nonEmpty(rules)); // an empty policy keeps everything (see above)
        const more: RetentionRules = { ...rules };
        for (const k of ['last', 'within', ...CALENDAR_RULES] as const)
          more[k] = (rules[k] ?? 0) + (extra[k] ?? 0);
        const unguarded = { ...opts, allowMassDelete: true };
        const base = deletedIds(decideRetention(snapshots, rules, unguarded));
        for (const id of deletedIds(decideRetention(snapshots, more, unguarded)))
          expect(base.has(id)).toBe(true);
      }),
      RUNS,
    );
  });

  it('never deletes more in conservative mode than in a normal run', () => {
    fc.assert(
      fc.property(arbCase, ({ snapshots, rules, opts }) => {
        // Compared as policies: a guard may refuse the larger of the two and not the smaller.
        const unguarded = { ...opts, allowMassDelete: true };
        const normal = deletedIds(decideRetention(snapshots, rules, { ...unguarded, conservative: false }));
        const careful = decideRetention(snapshots, rules, { ...unguarded, conservative: true });
        for (const id of deletedIds(careful)) expect(normal.has(id)).toBe(true);
      }),
      RUNS,
    );
  });

  it('never deletes pinned, foreign, incomplete, future-dated or the newest eligible snapshot', () => {
    fc.assert(
      fc.property(arbCase, ({ snapshots, rules, opts }) => {
        const r = decideRetention(snapshots, rules, opts);
        const gone = deletedIds(r);
        const eligible = snapshots.filter((s) => isEligible(s, opts.now));
        for (const s of snapshots) if (!isEligible(s, opts.now)) expect(gone.has(s.id)).toBe(false);
        const newest = [...eligible].sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1))[0];
        if (newest) expect(gone.has(newest.id)).toBe(false);
        const keptEligible = eligible.filter((s) => !gone.has(s.id));
        expect(keptEligible.length).toBeGreaterThanOrEqual(Math.min(1, eligible.length));
      }),
      RUNS,
    );
  });

  it('refuses exactly when a guard trips, and a refusal deletes nothing', () => {
    fc.assert(
      fc.property(arbCase, ({ snapshots, rules, opts }) => {
        const r = decideRetention(snapshots, rules, opts);
        const policy = decideRetention(snapshots, rules, { ...opts, allowMassDelete: true });
        const wouldDelete = deletedIds(policy).size;
        const clockBehind = snapshots.some((s) => opts.now < s.created - CLOCK_SKEW_TOLERANCE_MS);
        const tooMany = opts.maxDeletesPerRun !== undefined && wouldDelete > opts.maxDeletesPerRun;
        expect(r.status).toBe((clockBehind || tooMany) && !opts.allowMassDelete ? 'refused' : 'ok');
        if (r.status === 'refused') {
          expect(r.decisions.every((d) => d.action === 'keep')).toBe(true);
          expect(r.refusal.code).toBe(clockBehind ? 'clock_behind' : 'max_deletes_exceeded');
        }
      }),
      RUNS,
    );
  });

  it('does not let time alone delete anything when there is no within rule', () => {
    fc.assert(
      fc.property(
        arbCase,
        fc.integer({ min: 0, max: 400 * 24 * 60 }),
        ({ snapshots, rules, opts }, later) => {
          const noWithin = { ...rules, within: 0 };
          const newest = Math.max(opts.now, ...snapshots.map((s) => s.created));
          const t1 = { ...opts, now: newest };
          const t2 = { ...opts, now: newest + later * MIN };
          expect(decideRetention(snapshots, noWithin, t2)).toEqual(decideRetention(snapshots, noWithin, t1));
        },
      ),
      RUNS,
    );
  });

  it('matches the rules as specified, snapshot by snapshot', () => {
    // An independent reading of DESIGN §7 over the eligible set E, newest first.
    fc.assert(
      fc.property(arbCase, ({ snapshots, rules, opts }) => {
        fc.pre(nonEmpty(rules));
        const r = decideRetention(snapshots, rules, { ...opts, allowMassDelete: true });
        const E = snapshots
          .filter((s) => isEligible(s, opts.now))
          .sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1));
        const keys = E.map((s) => bucketKeys(s.created, opts.timezone));
        E.forEach((s, i) => {
          const expected: string[] = [];
          if (i < (rules.last ?? 0)) expected.push(`last ${rules.last}`);
          const within = rules.within ?? 0;
          const anchor = opts.conservative ? Math.min((E[0] as RetentionInput).created, opts.now) : opts.now;
          if (within > 0 && s.created > anchor - within) {
            expected.push(`within ${formatDuration(within)}${opts.conservative ? ' of newest' : ''}`);
          }
          for (const rule of CALENDAR_RULES) {
            const key = (keys[i] as (typeof keys)[number])[rule];
            const newer = keys.slice(0, i).map((k) => k[rule]);
            const firstOfBucket = !newer.includes(key);
            if (firstOfBucket && new Set(newer).size < (rules[rule] ?? 0)) expected.push(`${rule} ${key}`);
          }
          if (i === 0 && expected.length === 0) expected.push('guard:minKeep');
          expect(r.decisions.find((d) => d.id === s.id)?.reasons).toEqual(
            expected.length ? expected : ['expired'],
          );
        });
      }),
      { numRuns: 200 },
    );
  });
});
