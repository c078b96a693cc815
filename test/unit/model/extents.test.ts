import { describe, expect, it } from 'vitest';
import { commitCost, liveCommitCost, streamCost } from '../../../src/model/extents.js';

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
});
