/**
 * Retention deletes only auto snapshots past every keep rule, and its guards stop it whole:
 * more deletions than maxDeletesPerRun, or a clock behind the newest snapshot, unless
 * --allow-mass-delete. Fixture `retention`: hourly auto snapshots 08:00 to 12:00 on 110 (over
 * a pinned `keep`) and on the protected 111; the config keeps the last 2, at most 2 per run.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, fixture, planFixture, stepLines } from './plan-fixture.js';
import { FIXTURE_NOW, HOUR } from '../../fixtures/observed/constants.js';

const auto = (hour: string) => `auto-20261120T${hour}00Z`;
const refused = (disk: string) => ({
  severity: 'error',
  code: 'retention_refused',
  summary: `retention refused: retention would delete 3 snapshots, more than maxDeletesPerRun (2): nothing is deleted`,
  detail: 'Nothing is deleted. Check the policy and the clock; pass --allow-mass-delete to accept it.',
  address: `disk.${disk}`,
});

describe('retention guards', () => {
  it('refuses to delete more than maxDeletesPerRun, and deletes nothing', () => {
    const plan = planFixture('retention');
    expect(changeLines(plan)).toEqual([]);
    expect(plan.diagnostics).toEqual([refused('vm-110-disk-0'), refused('vm-111-disk-0')]);
    expect(plan.applyable).toBe(false);
  });

  it('with --allow-mass-delete, deletes the oldest auto snapshots, oldest first, and never the pin', () => {
    const plan = planFixture('retention', { allowMassDelete: true });
    const deleted = (disk: string) =>
      plan.resource_changes.filter((c) => c.disk === disk).map((c) => [c.name, c.action_reason]);
    for (const disk of ['vm-110-disk-0', 'vm-111-disk-0'])
      expect(deleted(disk)).toEqual([
        [auto('08'), 'retention_expired'],
        [auto('09'), 'retention_expired'],
        [auto('10'), 'retention_expired'],
      ]);
    // Each merge streams into the next auto snapshot, onto the pin below the oldest.
    expect(stepLines(plan, `snapshot.vm-110-disk-0@${auto('08')}`)).toEqual([
      `set_meta snap:${auto('09')} record_intent delete/${auto('08')}/stream`,
      `stream snap:${auto('08')} into snap:${auto('09')} onto snap:keep 0`,
      `remove snap:${auto('08')}`,
      `set_meta snap:${auto('09')} finish`,
    ]);
    expect(stepLines(plan, `snapshot.vm-111-disk-0@${auto('08')}`)[1]).toBe(
      `stream snap:${auto('08')} into snap:${auto('09')} onto - 0`,
    );
    expect(plan.diagnostics.map((d) => d.severity)).toEqual(['warning', 'warning']);
    expect(plan.applyable).toBe(true);
  });

  it('deletes within the limit without the flag', () => {
    const config = fixture('retention').config.replace('last: 2', 'last: 4');
    const plan = planFixture('retention', {}, config);
    expect(changeLines(plan)).toEqual([
      `snapshot.vm-110-disk-0@${auto('08')}: delete`,
      `snapshot.vm-111-disk-0@${auto('08')}: delete`,
    ]);
    expect(plan.diagnostics).toEqual([]);
  });

  it('refuses retention when the clock is behind the newest snapshot', () => {
    const config = fixture('retention').config.replace('last: 2', 'last: 4');
    const plan = planFixture('retention', { now: FIXTURE_NOW - 2 * HOUR }, config);
    expect(changeLines(plan)).toEqual([]);
    const behind = (disk: string) => ({
      address: `disk.${disk}`,
      summary: `retention refused: the clock (2026-11-20T10:30:00.000Z) is behind snapshot ${auto('12')} (2026-11-20T12:00:00.000Z) by more than 5m: nothing is deleted until the clock or the snapshot is fixed`,
    });
    expect(
      plan.diagnostics
        .filter((d) => d.code === 'retention_refused')
        .map((d) => ({ address: d.address, summary: d.summary })),
    ).toEqual([behind('vm-110-disk-0'), behind('vm-111-disk-0')]);
    expect(plan.applyable).toBe(false);
  });
});
