/**
 * A plan that would take a storage below its reserve at any step is refused as a whole.
 * Fixture `nearly-full`: 48 MiB, 4 MiB free; s0 of 150 holds nothing and its top holds 6 MiB,
 * so deleting s0 copies nothing by stream and 6 MiB by commit. A new 64 MiB disk needs only
 * its metadata on a directory.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, fixture, planFixture } from './plan-fixture.js';
import { MiB } from '../../fixtures/observed/constants.js';

describe('capacity', () => {
  it('accepts the plan whose merge copies nothing', () => {
    const plan = planFixture('nearly-full');
    expect(changeLines(plan)).toEqual(['snapshot.vm-150-disk-0@s0: delete', 'disk.vm-151-disk-0: create']);
    const [cap] = plan.capacity;
    expect(cap).toMatchObject({ storage: 'lab', size: 48 * MiB, reserve: 0, free_before: 4 * MiB, ok: true });
    expect(cap?.free_min).toBeGreaterThan(0);
    expect(plan.applyable).toBe(true);
  });

  it('refuses the same changes when a forced commit would copy more than is free', () => {
    const plan = planFixture('nearly-full', { mergeDirection: 'commit' });
    expect(plan.capacity[0]).toMatchObject({ free_before: 4 * MiB, free_min: -2 * MiB, ok: false });
    expect(plan.diagnostics).toContainEqual({
      severity: 'error',
      summary: 'the plan does not fit on lab: free space would drop to -2 MiB, below the reserve of 0 MiB',
      detail:
        'size 48 MiB, free now 4 MiB, lowest point -2 MiB, after 4 MiB. Free space, lower the reserve, or plan fewer changes at once.',
    });
    expect(plan.applyable).toBe(false);
    expect(plan.errored).toBe(true);
  });

  it('refuses a plan that would go below a declared reserve', () => {
    const config = fixture('nearly-full').config.replace('path: ./store', 'path: ./store\n    reserve: 10%');
    expect(config).toContain('reserve: 10%');
    const plan = planFixture('nearly-full', {}, config);
    expect(plan.capacity[0]).toMatchObject({ reserve: Math.ceil((48 * MiB) / 10), ok: false });
    expect(plan.applyable).toBe(false);
  });
});
