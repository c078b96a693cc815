/**
 * The house stays small (issue "the house", acceptance 3): no source file over 400 lines, and the
 * median under 120, so a newcomer reads any module in one sitting.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function lines(file: string): number {
  return readFileSync(file, 'utf8').split('\n').length - 1;
}

describe('source shape', () => {
  const files = sources(SRC).map((f) => ({ file: f.slice(SRC.length + 1), lines: lines(f) }));

  it('has no file over 400 lines', () => {
    expect(files.filter((f) => f.lines > 400)).toEqual([]);
  });

  it('keeps the median file under 120 lines', () => {
    const sorted = files.map((f) => f.lines).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    expect(files.length).toBeGreaterThan(50);
    expect(median).toBeLessThan(120);
  });
});
