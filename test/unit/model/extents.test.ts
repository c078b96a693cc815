import { describe, expect, it } from 'vitest';
import {
  afterCommit,
  afterStream,
  commitCost,
  liveCommitCost,
  streamCost,
} from '../../../src/model/extents.js';

const MiB = 1024 * 1024;

describe('merge costs', () => {
  it('a live commit below the top writes zero clusters as data; qemu-img commit and streams do not', () => {
    const child = {
      data: [[0, 2 * MiB]] as [number, number][],
      zero: [[4 * MiB, 68 * MiB]] as [number, number][],
    };
    const snapshot = { data: [[0, 8 * MiB]] as [number, number][], zero: [] };
    expect(commitCost(child)).toBe(2 * MiB);
    expect(liveCommitCost(child)).toBe(66 * MiB);
    // The stream copies what the child still sees of the snapshot: 2-4 MiB.
    expect(streamCost(snapshot, child)).toBe(2 * MiB);
  });

  it('qemu-img commit copies whole 64 KiB chunks, and leaves them as data in the snapshot', () => {
    const KiB = 1024;
    const child = {
      data: [
        [4 * KiB, 8 * KiB],
        [60 * KiB, 68 * KiB],
      ] as [number, number][],
      zero: [[256 * KiB, 320 * KiB]] as [number, number][],
    };
    // Two chunks for the first write (0-64 KiB, which the second write also touches) and the next.
    expect(commitCost(child)).toBe(128 * KiB);
    const after = afterCommit({ data: [[1 * MiB, 2 * MiB]], zero: [] }, child);
    expect(after.data).toEqual([
      [0, 128 * KiB],
      [1 * MiB, 2 * MiB],
    ]);
    expect(after.zero).toEqual([[256 * KiB, 320 * KiB]]);
  });

  it('the directory stream copies whole 128 KiB windows where the child shadows nothing, zeros too', () => {
    const KiB = 1024;
    const window = { bytes: 128 * KiB, virtualSize: 1 * MiB + 64 * KiB };
    // A 4 KiB write, a write across a window boundary, and one in the last, partial window.
    const snapshot = {
      data: [
        [4 * KiB, 8 * KiB],
        [252 * KiB, 260 * KiB],
        [1 * MiB + 8 * KiB, 1 * MiB + 12 * KiB],
      ] as [number, number][],
      zero: [],
    };
    // The child holds the second half of the first window already.
    const child = { data: [[64 * KiB, 128 * KiB]] as [number, number][], zero: [] };
    expect(streamCost(snapshot, child)).toBe(16 * KiB);
    expect(streamCost(snapshot, child, window)).toBe(64 * KiB + 256 * KiB + 64 * KiB);
    expect(afterStream(snapshot, child, window).data).toEqual([
      [0, 384 * KiB],
      [1 * MiB, 1 * MiB + 64 * KiB],
    ]);
  });
});
