import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ASSUMED_BYTES_PER_SECOND,
  MERGE_SAMPLES_KEPT,
  decodeSamples,
  encodeSamples,
  throughputOf,
  withSamples,
} from '../../../src/model/merge-history.js';
import { changeEstimate } from '../../../src/plan/time-estimate.js';
import { summarize } from '../../../src/model/plan-summary.js';
import { aboutDuration } from '../../../src/base/durations.js';
import type { ResourceChange, Step } from '../../../src/model/plan.js';

const MiB = 1024 * 1024;
const top = { role: 'top' } as const;
const snap = (s: string) => ({ role: 'snapshot', snap: s }) as const;
const commit = (bytes: number, rate?: number): Step => ({
  kind: 'commit',
  layer: top,
  into: snap('s1'),
  bytes,
  ...(rate !== undefined ? { rate } : {}),
});
const stream = (bytes: number): Step => ({ kind: 'stream', layer: top, from: snap('s1'), onto: null, bytes });

describe("a storage's merge record", () => {
  it('reads back what it writes, and refuses anything else', () => {
    const sample = fc.record({
      bytes: fc.integer({ min: 1, max: 2 ** 50 }),
      ms: fc.integer({ min: 1, max: 10 ** 9 }),
    });
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: MERGE_SAMPLES_KEPT }), (samples) => {
        expect(decodeSamples(encodeSamples(samples))).toEqual(samples);
      }),
    );
    for (const bad of [
      '',
      '1',
      '1:',
      ':1',
      '0:5',
      '5:0',
      '1:2+',
      '1:2,3:4',
      '-1:2',
      '1e3:2',
      'x'.repeat(600),
    ])
      expect(decodeSamples(bad), bad).toBeUndefined();
    const tooMany = Array.from({ length: MERGE_SAMPLES_KEPT + 1 }, () => ({ bytes: 1, ms: 1 }));
    expect(decodeSamples(encodeSamples(tooMany))).toBeUndefined();
  });

  it('keeps the newest merges only, and drops samples that carry no rate', () => {
    const old = Array.from({ length: MERGE_SAMPLES_KEPT }, (_, i) => ({ bytes: i + 1, ms: 1 }));
    const next = withSamples(old, [
      { bytes: 0, ms: 5 },
      { bytes: 100, ms: 0 },
      { bytes: 99, ms: 3 },
    ]);
    expect(next).toHaveLength(MERGE_SAMPLES_KEPT);
    expect(next.at(-1)).toEqual({ bytes: 99, ms: 3 });
    expect(next[0]).toEqual({ bytes: 2, ms: 1 });
  });

  it('weighs merges by their bytes: total bytes over total time', () => {
    // 1000 MiB in 10 s and 10 MiB in 1 s: 1010 MiB in 11 s, not the mean of 100 and 10 MiB/s.
    const t = throughputOf([
      { bytes: 1000 * MiB, ms: 10_000 },
      { bytes: 10 * MiB, ms: 1000 },
    ]);
    expect(t).toEqual({ bytesPerSecond: Math.round((1010 * MiB) / 11), basis: 'recorded', merges: 2 });
    expect(throughputOf([])).toEqual({
      bytesPerSecond: ASSUMED_BYTES_PER_SECOND,
      basis: 'assumed',
      merges: 0,
    });
  });
});

describe('time estimates of changes', () => {
  const recorded = { bytesPerSecond: 100 * MiB, basis: 'recorded', merges: 3 } as const;

  it("sums each merge step's bytes at the storage's rate; a change that copies nothing has none", () => {
    expect(changeEstimate([commit(300 * MiB), stream(200 * MiB)], recorded)).toEqual({
      seconds: 5,
      bytes_per_second: 100 * MiB,
      basis: 'recorded',
      merges: 3,
    });
    expect(changeEstimate([stream(0)], recorded)).toBeUndefined();
    expect(changeEstimate([{ kind: 'remove', layer: top, wipe: false }], recorded)).toBeUndefined();
  });

  it('uses the mergeRate where it is below the recorded rate, and says so', () => {
    const e = changeEstimate([commit(100 * MiB, 10 * MiB)], recorded);
    expect(e).toMatchObject({ seconds: 10, bytes_per_second: 10 * MiB, basis: 'merge_rate' });
    // A mergeRate above what the storage does is not what bounds it.
    expect(changeEstimate([commit(100 * MiB, 1000 * MiB)], recorded)).toMatchObject({
      seconds: 1,
      basis: 'recorded',
    });
  });

  it('sums one storage and takes the slowest of storages that run side by side; assumed rates are flagged', () => {
    const change = (storage: string, seconds: number, basis: 'recorded' | 'assumed'): ResourceChange =>
      ({
        address: `snapshot.${storage}`,
        type: 'lvchain_snapshot',
        name: 's1',
        storage,
        disk: 'd',
        change: { actions: ['delete'], before: null, after: null },
        action_reason: 'retention_expired',
        irreversible: false,
        operation: {
          op: 'delete',
          snap: 's1',
          merge: 'merge_commit',
          commit_bytes: MiB,
          stream_bytes: MiB,
          chosen_because: 'cheaper',
        },
        expected_shape: [],
        x_top_meta: { disk: 'd' },
        x_estimate: { seconds, bytes_per_second: MiB, basis, merges: basis === 'recorded' ? 1 : 0 },
        x_steps: [],
      }) as ResourceChange;
    expect(
      summarize([change('a', 10, 'recorded'), change('a', 15, 'recorded'), change('b', 20, 'recorded')])
        .time_estimate,
    ).toEqual({
      seconds: 25,
      assumed: false,
    });
    expect(summarize([change('a', 1, 'recorded'), change('b', 2, 'assumed')]).time_estimate).toEqual({
      seconds: 2,
      assumed: true,
    });
    expect(summarize([]).time_estimate).toBeUndefined();
  });

  it('bounds a merge whose bytes could not be read by the most it can copy, and says it is a bound', () => {
    const t = throughputOf([{ bytes: 100 * MiB, ms: 1000 }]);
    const e = changeEstimate([commit(0)], t, 200 * MiB);
    expect(e).toMatchObject({ seconds: 2, basis: 'recorded', at_most: true });
    // Known bytes are never replaced by the bound.
    expect(changeEstimate([commit(50 * MiB)], t, 200 * MiB)).toEqual({
      seconds: 0.5,
      bytes_per_second: 100 * MiB,
      basis: 'recorded',
      merges: 1,
    });
    expect(changeEstimate([commit(0)], t)).toBeUndefined();
    expect(aboutDuration(12.4, true)).toBe('at most 12 s');
    expect(aboutDuration(0.2, true)).toBe('under a second');
  });

  it('reads as people say it', () => {
    expect(aboutDuration(0.4)).toBe('under a second');
    expect(aboutDuration(12.4)).toBe('about 12 s');
    expect(aboutDuration(130)).toBe('about 2 min');
    expect(aboutDuration(89 * 60)).toBe('about 89 min');
    expect(aboutDuration(5400)).toBe('about 1.5 h');
    expect(aboutDuration(7200)).toBe('about 2 h');
    expect(aboutDuration(3 * 86400)).toBe('about 3 days');
  });
});
