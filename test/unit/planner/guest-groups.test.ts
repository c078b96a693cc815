/**
 * A guest's disks are snapshotted as one group: every disk gets the snapshot, with the same
 * instant, and the changes carry the group so that apply records all intents first. Fixture
 * `guest`: web-120 with disks 0 (8 MiB) and 1 (4 MiB), snapshot `before` taken, `upgrade` declared.
 */
import { describe, expect, it } from 'vitest';
import { change, changeLines, planFixture, stepLines } from './plan-fixture.js';
import { MiB } from '../../fixtures/observed/constants.js';

const NOW = '2026-11-20T12:30:00Z';

describe('guest groups', () => {
  const plan = planFixture('guest');

  it('snapshots every disk of the guest, adjacent and in one group', () => {
    expect(changeLines(plan)).toEqual([
      'snapshot.vm-120-disk-0@upgrade: snapshot',
      'snapshot.vm-120-disk-1@upgrade: snapshot',
    ]);
    for (const disk of ['vm-120-disk-0', 'vm-120-disk-1']) {
      const c = change(plan, `snapshot.${disk}@upgrade`);
      expect(c.group).toBe('guest.web-120@upgrade');
      expect(c.operation).toEqual({ op: 'snapshot', snap: 'upgrade', kind: 'pinned', created: NOW });
    }
  });

  it('starts every disk’s steps with its intent record, so apply can record them all first', () => {
    expect(stepLines(plan, 'snapshot.vm-120-disk-1@upgrade')).toEqual([
      `set_meta top record_intent snapshot/upgrade/${NOW}/pinned`,
      'rename top → snap:upgrade',
      `allocate top ${4 * MiB} incomplete`,
      `format top ${4 * MiB} backing snap:upgrade`,
      'set_meta top finish',
      'set_meta snap:upgrade finish',
    ]);
    expect(stepLines(plan, 'snapshot.vm-120-disk-0@upgrade')[0]).toBe(
      `set_meta top record_intent snapshot/upgrade/${NOW}/pinned`,
    );
  });

  it('targets the whole guest when one of its disks is targeted', () => {
    const targeted = planFixture('guest', { targets: ['disk.vm-120-disk-1'] });
    expect(changeLines(targeted)).toEqual(changeLines(plan));
  });
});
