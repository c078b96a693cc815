import { describe, expect, it } from 'vitest';
import { progressLine } from '../../../src/render/progress.js';

const MiB = 1024 * 1024;

describe('a step progress line', () => {
  it('says which step of how many, the rate from the bytes the plan moves, and the time left', () => {
    const line = progressLine({
      address: 'snapshot.vm-1-disk-0@s1',
      index: 1,
      count: 6,
      fraction: 0.25,
      elapsedMs: 2000,
      bytes: 800 * MiB,
    });
    // 200 MiB in 2 s is 100 MiB/s; a quarter in 2 s leaves 6 s.
    expect(line).toBe(
      'snapshot.vm-1-disk-0@s1: [2/6] [#####...............] 25%  200 MiB of 800 MiB  100 MiB/s  about 6 s left',
    );
  });

  it('claims no rate or time before 2 % is done, nor while the first buffer QEMU moves could be most of it, and no time left once done', () => {
    // A burst at the start (QEMU's first buffer) is not a rate.
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.5, elapsedMs: 990, bytes: MiB }),
    ).toBe('a: [1/1] [##########..........] 50%  512 KiB of 1 MiB');
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.01, elapsedMs: 3000, bytes: MiB }),
    ).toBe('a: [1/1] [....................] 1%  10.2 KiB of 1 MiB');
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.5, elapsedMs: 1000, bytes: 4 * MiB }),
    ).toBe('a: [1/1] [##########..........] 50%  2 MiB of 4 MiB  2 MiB/s  about 1 s left');
    // Past four such buffers (64 MiB) the average is honest before a second has passed…
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.25, elapsedMs: 200, bytes: 256 * MiB }),
    ).toBe('a: [1/1] [#####...............] 25%  64 MiB of 256 MiB  320 MiB/s  under a second left');
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.24, elapsedMs: 200, bytes: 256 * MiB }),
    ).toBe('a: [1/1] [#####...............] 24%  61.4 MiB of 256 MiB');
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 0.25, elapsedMs: 90, bytes: 256 * MiB }),
    ).toBe('a: [1/1] [#####...............] 25%  64 MiB of 256 MiB');
    // …and once done, however short the step was.
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 1, elapsedMs: 250, bytes: 4 * MiB }),
    ).toBe('a: [1/1] [####################] 100%  4 MiB of 4 MiB  16 MiB/s');
    expect(
      progressLine({ address: 'a', index: 0, count: 1, fraction: 1, elapsedMs: 90, bytes: 4 * MiB }),
    ).toBe('a: [1/1] [####################] 100%  4 MiB of 4 MiB');
    expect(progressLine({ address: 'a', index: 0, count: 1, fraction: 1, elapsedMs: 4000 })).toBe(
      'a: [1/1] [####################] 100%',
    );
  });
});
