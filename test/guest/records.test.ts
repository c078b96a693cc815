/** The writer's record parser and the cut check, on records a real guest wrote. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consistentCut, parseRecords, RECORD_SIZE } from '../helpers/guest-disk.js';

const fixture = (disk: number): Buffer =>
  readFileSync(join(import.meta.dirname, 'fixtures', `records-disk${disk}.bin`));

describe('writer records', () => {
  it('reads a real disk as the prefix 1..20', () => {
    for (const disk of [0, 1]) {
      const r = parseRecords(fixture(disk), disk);
      expect(r.problems).toEqual([]);
      expect(r.prefix).toBe(true);
      expect(r.seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // uptimes in ms, in write order
      expect(r.writtenMs.every((t, i) => i === 0 || t >= r.writtenMs[i - 1]!)).toBe(true);
    }
  });

  it('rejects a record of the other disk, a changed byte, a gap and a torn tail', () => {
    expect(parseRecords(fixture(1), 0).prefix).toBe(false);
    const flipped = Buffer.from(fixture(0));
    flipped[5 * RECORD_SIZE + 40] = 0x39 - (flipped[5 * RECORD_SIZE + 40]! - 0x30);
    expect(parseRecords(flipped, 0).problems).toHaveLength(1);
    const gap = Buffer.concat([
      fixture(0).subarray(0, 3 * RECORD_SIZE),
      fixture(0).subarray(4 * RECORD_SIZE),
    ]);
    expect(parseRecords(gap, 0).prefix).toBe(false);
    const torn = fixture(0).subarray(0, 7 * RECORD_SIZE - 1);
    const t = parseRecords(torn, 0);
    expect([t.count, t.prefix]).toEqual([6, false]);
  });

  it('accepts one cut of the global order and nothing else', () => {
    expect(consistentCut([7, 7, 7])).toEqual({ ok: true, cut: 7 });
    expect(consistentCut([8, 7, 7])).toEqual({ ok: true, cut: 7 });
    expect(consistentCut([8, 8, 7])).toEqual({ ok: true, cut: 7 });
    expect(consistentCut([7, 8]).ok).toBe(false);
    expect(consistentCut([9, 7]).ok).toBe(false);
    expect(consistentCut([8, 7, 8]).ok).toBe(false);
  });
});
