/**
 * What the storage holds that lvchain did not put there stops only what it concerns. Fixture
 * `drift`: a foreign file beside disk 130's layers, a sidecar of 131 that is not JSON, and a
 * linked clone (vm-140) backed by snapshot s0 of 132, which the config no longer declares.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, planFixture, stepLines } from './plan-fixture.js';
import { FIXTURE_ROOT } from '../../fixtures/observed/constants.js';

const IMAGES = `${FIXTURE_ROOT}/store/images`;

describe('drift', () => {
  const plan = planFixture('drift');

  it('plans the disk beside a foreign file as usual, and names the file as not lvchain’s', () => {
    expect(changeLines(plan)).toEqual(['snapshot.vm-130-disk-0@s1: snapshot']);
    expect(stepLines(plan, 'snapshot.vm-130-disk-0@s1')[0]).toBe(
      'set_meta top record_intent snapshot/s1/2026-11-20T12:30:00Z/pinned',
    );
    expect(plan.diagnostics).toContainEqual({
      severity: 'info',
      summary: "2 object(s) on lab are not lvchain's and are left alone",
      detail: `${IMAGES}/130/notes.raw, ${IMAGES}/140/vm-140-disk-0.qcow2`,
    });
  });

  it('leaves a disk with a corrupt sidecar alone', () => {
    expect(plan.resource_drift).toContainEqual({
      address: 'disk.vm-131-disk-0',
      storage: 'lab',
      disk: 'vm-131-disk-0',
      problems: [
        {
          code: 'bad_sidecar',
          message: `the sidecar ${IMAGES}/131/vm-131-disk-0.lvchain.json is not valid JSON (Unterminated string in JSON at position 19)`,
        },
      ],
    });
    expect(plan.resource_changes.some((c) => c.disk === 'vm-131-disk-0')).toBe(false);
  });

  it('refuses to delete a snapshot that another image uses as its backing file', () => {
    const message = `snap-s0-vm-132-disk-0.qcow2 is the backing file of ${IMAGES}/140/vm-140-disk-0.qcow2, which lvchain does not manage; merging or removing it would break it`;
    expect(plan.resource_drift).toContainEqual({
      address: 'snapshot.vm-132-disk-0@s0',
      storage: 'lab',
      disk: 'vm-132-disk-0',
      problems: [{ code: 'has_dependants', message }],
    });
    expect(plan.diagnostics).toContainEqual({
      severity: 'warning',
      code: 'has_dependants',
      summary: `snapshot.vm-132-disk-0@s0 is refused: ${message}`,
      address: 'snapshot.vm-132-disk-0@s0',
    });
    expect(plan.resource_changes.some((c) => c.disk === 'vm-132-disk-0')).toBe(false);
    expect(plan.applyable).toBe(true);
  });
});
