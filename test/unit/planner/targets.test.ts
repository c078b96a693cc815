/**
 * `--target`: a target that names nothing is an error with a did-you-mean, never a quiet "No
 * changes"; a change pulled in by a target says why. Fixtures `guest` (web-120, disks 0 and 1,
 * `upgrade` due on both) and `chains`.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, planFixture } from './plan-fixture.js';

describe('--target', () => {
  it('a misspelt disk is an error that suggests the declared one, and plans nothing', () => {
    const plan = planFixture('chains', { targets: ['disk.vm-101-disk-O'] });
    expect(plan.errored).toBe(true);
    expect(changeLines(plan)).toEqual([]);
    expect(plan.diagnostics.filter((d) => d.severity === 'error').map((d) => d.summary)).toEqual([
      'target disk.vm-101-disk-O matches nothing in the config or on the storages; did you mean "disk.vm-101-disk-0"?',
    ]);
  });

  it('a snapshot the disk has, or a guest the config declares, is no error', () => {
    for (const target of ['snapshot.vm-101-disk-0@s0', 'disk.vm-102-disk-0']) {
      const plan = planFixture('chains', { targets: [target] });
      expect(plan.errored, target).toBe(false);
    }
    expect(planFixture('guest', { targets: ['guest.web-120'] }).errored).toBe(false);
  });

  it('an unknown snapshot and an unknown guest are errors too', () => {
    const plan = planFixture('guest', { targets: ['snapshot.vm-120-disk-0@upgrdae', 'guest.web-12'] });
    expect(plan.diagnostics.filter((d) => d.severity === 'error').map((d) => d.summary)).toEqual([
      'target snapshot.vm-120-disk-0@upgrdae matches nothing in the config or on the storages; did you mean "snapshot.vm-120-disk-0@upgrade"?',
      'target guest.web-12 matches nothing in the config or on the storages; did you mean "guest.web-120"?',
    ]);
  });

  it('says why another disk’s snapshot is included with a targeted disk', () => {
    const plan = planFixture('guest', { targets: ['snapshot.vm-120-disk-0@upgrade'] });
    expect(changeLines(plan)).toEqual([
      'snapshot.vm-120-disk-0@upgrade: snapshot',
      'snapshot.vm-120-disk-1@upgrade: snapshot',
    ]);
    expect(plan.diagnostics.filter((d) => d.severity === 'info')).toEqual([
      {
        severity: 'info',
        summary:
          'snapshot.vm-120-disk-1@upgrade is included because disk.vm-120-disk-0 belongs to guest web-120, whose snapshots are taken and merged on all its disks together',
        address: 'snapshot.vm-120-disk-1@upgrade',
      },
    ]);
  });
});
