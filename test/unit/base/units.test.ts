import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exactSize, formatBytes, parseDuration, parseSize } from '../../../src/base/units.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const PiB = 1024 ** 5;

function errorOf(r: number | { error: string }): string {
  if (typeof r === 'number') throw new Error(`expected an error, got ${r}`);
  return r.error;
}

describe('parseSize', () => {
  it.each([
    ['0B', 0],
    ['512B', 512],
    ['1KiB', KiB],
    ['512MiB', 512 * MiB],
    ['32GiB', 32 * GiB],
    ['2TiB', 2 * TiB],
    ['1PiB', PiB],
    ['32 GiB', 32 * GiB],
    [' 64MiB ', 64 * MiB],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    ['32GB', /"32GB" uses the decimal unit GB; lvchain takes binary units only .*: write 32GiB$/],
    ['100MB', /decimal unit MB.*write 100MiB$/],
    ['4kb', /decimal unit kb.*write 4KiB$/],
    ['1.5GB', /decimal unit GB.*e\.g\. 32GiB$/],
    ['32G', /"32G": the unit G is ambiguous; use a binary unit: write 32GiB$/],
    ['1.5GiB', /^"1\.5GiB" is not a whole number of GiB; write 1536MiB$/],
    ['0.5KiB', /^"0\.5KiB" is not a whole number of KiB; write 512B$/],
    ['0.1GiB', /^"0\.1GiB" is not a whole number of GiB; use a smaller unit/],
    ['-1GiB', /^"-1GiB" is negative/],
    ['+1GiB', /^"\+1GiB": write the size without "\+", e\.g\. 1GiB$/],
    ['32gib', /^"32gib": units are case-sensitive; write 32GiB$/],
    ['100b', /^"100b": units are case-sensitive; write 100B$/],
    ['1073741824', /^"1073741824" has no unit/],
    ['32 parsecs', /unknown unit "parsecs"; use B, KiB, MiB, GiB, TiB or PiB/],
    ['ten GiB', /^"ten GiB" is not a size; write a whole number with a binary unit/],
    ['', /^a size cannot be empty/],
    ['99999999PiB', /^"99999999PiB" is too large; sizes must be below 8PiB$/],
  ])('%j is refused: %s', (text, message) => {
    expect(errorOf(parseSize(text))).toMatch(message);
  });

  it('reads back every whole size it is given', () => {
    const units: [string, number][] = [
      ['B', 1],
      ['KiB', KiB],
      ['MiB', MiB],
      ['GiB', GiB],
      ['TiB', TiB],
    ];
    fc.assert(
      fc.property(fc.nat({ max: 4096 }), fc.constantFrom(...units), (n, [unit, factor]) => {
        expect(parseSize(`${n}${unit}`)).toBe(n * factor);
      }),
    );
  });
});

describe('exactSize', () => {
  it.each([
    [1, '1B'],
    [1536, '1536B'],
    [KiB, '1KiB'],
    [1536 * MiB, '1536MiB'],
    [GiB, '1GiB'],
    [3 * TiB, '3TiB'],
    [0, '0B'],
  ])('%d bytes is %s', (bytes, text) => {
    expect(exactSize(bytes)).toBe(text);
  });

  it('round-trips through parseSize', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.maxSafeNat(),
          fc.nat().map((n) => n * MiB),
        ),
        (bytes) => {
          expect(parseSize(exactSize(bytes))).toBe(bytes);
        },
      ),
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['90m', 90 * 60_000],
    ['36h', 36 * 3_600_000],
    ['7d', 7 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['0m', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['2 days', /^"2 days" is not a duration; write 2d$/],
    ['3 hours', /write 3h$/],
    ['90 min', /write 90m$/],
    ['1 week', /write 1w$/],
    ['1.5h', /^"1\.5h" is not a duration; write a whole number and m, h, d or w/],
    ['7', /^"7" is not a duration/],
    ['7s', /^"7s" is not a duration/],
    ['forever', /^"forever" is not a duration/],
  ])('%j is refused: %s', (text, message) => {
    expect(errorOf(parseDuration(text))).toMatch(message);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [640 * KiB, '640 KiB'],
    [1.5 * GiB, '1.5 GiB'],
    [100.4 * MiB, '100 MiB'],
    [32 * GiB, '32 GiB'],
    [-2 * MiB, '-2 MiB'],
    [2048 * PiB, '2048 PiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
