/**
 * The plan as text says nothing that contradicts itself: an errored plan is never "No changes",
 * a shrink is refused in the config's units, a diagnostic names its address once, and snapshots
 * merged away are counted as merges, not as destroyed. Plans are made from captured fixtures.
 */
import { describe, expect, it } from 'vitest';
import { fixture, planFixture } from '../planner/plan-fixture.js';
import { renderPlanText, worstCaseLine } from '../../../src/render/text.js';
import { makeStyle } from '../../../src/render/style.js';
import { FIXTURE_NOW, HOUR } from '../../fixtures/observed/constants.js';
import { formatBytes } from '../../../src/base/units.js';

const text = (plan: Parameters<typeof renderPlanText>[0]) =>
  renderPlanText(plan, { style: makeStyle(false) });
/** The diagnostic frames of a text plan, one string each. */
const frames = (out: string) => out.match(/╷\n[\s\S]*?╵/g) ?? [];

describe('errored plans are not "No changes"', () => {
  it('a shrink: the error alone, in the units the config uses, with the bytes for machines', () => {
    const config = fixture('chains').config.replace(/size: 32MiB/, 'size: 16MiB');
    const plan = planFixture('chains', {}, config);
    expect(plan.errored).toBe(true);
    const out = text(plan);
    expect(out).not.toContain('No changes');
    expect(out, 'one blank line between blocks').not.toMatch(/\n\n\n/);
    expect(out).toContain(
      'Error: the declared size 16MiB is below the current size 32MiB; shrinking is refused',
    );
    expect(plan.diagnostics.find((d) => d.code === 'shrink_refused')?.figures).toEqual({
      declared_size: 16 * 1024 * 1024,
      current_size: 32 * 1024 * 1024,
    });
  });

  it('a rollback to a snapshot the disk does not have', () => {
    const plan = planFixture('chains', {
      mode: 'rollback',
      rollback: { disks: ['vm-101-disk-0'], snap: 'nope', discardNewer: false },
    });
    expect(plan.errored).toBe(true);
    const out = text(plan);
    expect(out).not.toContain('No changes');
    expect(out).toContain('Error: disk.vm-101-disk-0 has no snapshot nope');
  });

  it('the clock guard: retention refused, and the address named once per diagnostic', () => {
    const config = fixture('retention').config.replace('last: 2', 'last: 4');
    const plan = planFixture('retention', { now: FIXTURE_NOW - 2 * HOUR }, config);
    expect(plan.errored).toBe(true);
    const out = text(plan);
    expect(out).not.toContain('No changes');
    const refused = frames(out).filter((f) => f.includes('retention refused'));
    expect(refused).toHaveLength(2);
    for (const f of refused) expect(f.match(/disk\.vm-11\d-disk-0/g)).toHaveLength(1);
  });
});

describe('summary', () => {
  it('counts merges apart from destroys, with the bytes they copy', () => {
    const plan = planFixture('retention', { allowMassDelete: true });
    expect(plan.summary).toMatchObject({ add: 0, change: 0, destroy: 0, merge: 6 });
    const out = text(plan);
    expect(out).toMatch(
      /^Plan: 0 to add, 0 to change, 0 to destroy; 6 snapshots to merge away \(\d+(\.\d)? [KMG]?i?B to copy\)\.$/m,
    );
    expect(out).toContain('  - merge a snapshot away (its data is kept)\n');
    expect(out).not.toContain('  - destroy\n');
    expect(out).toContain(
      '# snapshot.vm-110-disk-0@auto-20261120T0800Z will be merged away (its data is kept)',
    );
    expect(out).not.toContain('will be destroyed');
  });
});

describe('worst case', () => {
  it('sets the worst case against both the size of the storage and what is free now, each named', () => {
    const plan = planFixture('chains');
    const r = plan.capacity[0];
    if (!r) throw new Error('the fixture plan has no capacity report');
    expect(r.free_before).toBeLessThan(r.size);
    expect(text(plan).split('\n')[0]).toContain(
      `the storage holds ${formatBytes(r.size)} in all, ${formatBytes(r.free_before)} of it free now`,
    );
  });
});

describe('what the declared disks take of the storage', () => {
  const report = planFixture('chains').capacity[0] as Parameters<typeof worstCaseLine>[0];
  const line = (kind: 'lvm' | 'dir', worst: number) =>
    worstCaseLine({ ...report, kind, worst_case: worst }, makeStyle(false));

  it('on thick LVM is a cost paid up front, not a worst case that writes may reach', () => {
    expect(line('lvm', 60 * 2 ** 20)).toMatch(
      /^Up front on \S+: the declared disks take up to 60 MiB once their policies keep every snapshot they allow \(thick LVM allocates each LV in full when it is made\); the VG holds /,
    );
    expect(line('lvm', report.size + 1)).toMatch(
      /: not enough, so snapshots will fail before retention is full$/,
    );
    expect(line('lvm', 1)).not.toMatch(/worst case/i);
  });

  it('on a directory is a worst case, reached only if every kept snapshot is fully written', () => {
    expect(line('dir', 60 * 2 ** 20)).toMatch(
      /^Worst case on \S+: the declared disks can need up to 60 MiB .*fully written/,
    );
    expect(line('dir', report.size + 1)).toMatch(/: not enough if every snapshot fills$/);
  });
});
