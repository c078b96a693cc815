/**
 * The split stream's copy on directory storage: the qemu-io script that copy-on-reads a
 * snapshot's ranges and flushes, and the progress read from qemu-io's own output (captured by
 * test/fixtures/qemu/capture.sh from a real copy-on-read of a data range and a zero range, and
 * from one whose write failed).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bytesRead,
  clusterAligned,
  copyScript,
  readProgress,
} from '../../../src/engines/offline/split-stream.js';

const MiB = 1024 * 1024;
const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/qemu', name), 'utf8');
const captured = fixture('qemu-io-copy-on-read.txt');
const enospc = fixture('qemu-io-aio-read-enospc.txt');

describe('split stream', () => {
  it('reads each range in requests of at most 8 MiB, four in flight, then flushes so a write-back failure fails the run', () => {
    expect(
      copyScript([
        [1 * MiB, 21 * MiB],
        [64 * MiB, 73 * MiB],
      ]).split('\n'),
    ).toEqual([
      `aio_read ${1 * MiB} ${8 * MiB}`,
      `aio_read ${9 * MiB} ${8 * MiB}`,
      `aio_read ${17 * MiB} ${4 * MiB}`,
      `aio_read ${64 * MiB} ${8 * MiB}`,
      'aio_flush',
      `aio_read ${72 * MiB} ${1 * MiB}`,
      'aio_flush',
      'flush',
      '',
    ]);
  });

  it('flushes after every GiB, so a killed copy keeps most of what it copied', () => {
    const lines = copyScript([[0, 2560 * MiB]])
      .trim()
      .split('\n');
    const reads = lines.filter((l) => l.startsWith('aio_read'));
    expect(reads.length).toBe(320);
    // Every flush comes after an aio_flush: the reads before it have completed.
    const flushes = lines.flatMap((l, i) => (l === 'flush' ? [i] : []));
    expect(flushes.map((i) => lines[i - 1])).toEqual(['aio_flush', 'aio_flush', 'aio_flush']);
    expect(flushes.map((i) => lines.slice(0, i).filter((l) => l.startsWith('aio_read')).length)).toEqual([
      128, 256, 320,
    ]);
    // Never more than four reads between two aio_flush.
    const runs = lines
      .join(' ')
      .split('aio_flush')
      .map((c) => (c.match(/aio_read/g) ?? []).length);
    expect(Math.max(...runs)).toBe(4);
  });

  it('counts the bytes qemu-io reported read, which tells a failed aio_read from a complete copy', () => {
    // Both captured copies asked for 3 MiB; in the second, blkdebug failed one copy-on-read write
    // with ENOSPC and qemu-io still exited 0.
    expect(bytesRead(captured)).toBe(3 * MiB);
    expect(enospc).toContain('readv failed: No space left on device');
    expect(bytesRead(enospc)).toBe(1 * MiB);
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
