/**
 * The split stream's copy on directory storage: the qemu-io script that copy-on-reads a
 * snapshot's ranges and flushes, and the progress read from qemu-io's own output (captured by
 * test/fixtures/qemu/capture.sh from a real copy-on-read of a data range and a zero range).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterAligned, copyScript, readProgress } from '../../../src/engines/offline/split-stream.js';

const MiB = 1024 * 1024;
const captured = readFileSync(join(__dirname, '../../fixtures/qemu/qemu-io-copy-on-read.txt'), 'utf8');

describe('split stream', () => {
  it('reads each range in requests of at most 8 MiB, then flushes so a write-back failure fails the run', () => {
    expect(
      copyScript([
        [1 * MiB, 21 * MiB],
        [64 * MiB, 65 * MiB],
      ]).split('\n'),
    ).toEqual([
      `read ${1 * MiB} ${8 * MiB}`,
      `read ${9 * MiB} ${8 * MiB}`,
      `read ${17 * MiB} ${4 * MiB}`,
      `read ${64 * MiB} ${1 * MiB}`,
      'flush',
      '',
    ]);
  });

  it('flushes after every GiB, so a killed copy keeps most of what it copied', () => {
    const lines = copyScript([[0, 2560 * MiB]])
      .trim()
      .split('\n');
    expect(lines.length).toBe(320 + 3);
    expect(lines.flatMap((l, i) => (l === 'flush' ? [i] : []))).toEqual([128, 257, 322]);
  });

  it('widens the reads to 128 KiB cluster boundaries, so QEMU 7.2 never starts a copy inside a cluster', () => {
    const KiB = 1024;
    expect(
      clusterAligned(
        [
          [100 * KiB, 108 * KiB],
          [130 * KiB, 140 * KiB],
          [1 * MiB, 1 * MiB + 300 * KiB],
        ],
        8 * MiB,
      ),
    ).toEqual([
      [0, 256 * KiB],
      [1 * MiB, 1 * MiB + 384 * KiB],
    ]);
  });

  it('stops at the virtual size, whose last cluster may be partial (a read past it fails)', () => {
    // 1000448 bytes: the size qemu-img gives a 1000000-byte qcow2, 82944 bytes into its last cluster.
    expect(clusterAligned([[917504 + 4096, 999424]], 1000448)).toEqual([[917504, 1000448]]);
  });

  it('reports progress from the reads qemu-io completed, however its output is chunked', () => {
    const seen: number[] = [];
    const parse = readProgress(3 * MiB, (f) => seen.push(f));
    // Split mid-line: a line counts once it is complete.
    for (let i = 0; i < captured.length; i += 7) parse?.(captured.slice(i, i + 7));
    expect(seen).toEqual([2 / 3, 1]);
  });
});
