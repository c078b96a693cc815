/**
 * `adopt:` of a policy: snapshots another tool took (recorded as external) whose names match
 * count as the policy's, so its retention prunes them by their time. Fixture `retention`, with
 * disk 110's hourly snapshots recorded as external, as lvchain records Proxmox's or
 * cv4pve-autosnap's; and the config error of a pattern that is no regular expression.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, fixture, planFixture } from './plan-fixture.js';
import type { Observed } from '../../../src/model/observed.js';
import { loadConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/base/errors.js';

/** Disk 110's hourly snapshots as others' snapshots: kind external, no policy. */
const othersSnapshots = (o: Observed): void => {
  for (const l of o.storages.lab?.disks['vm-110-disk-0']?.layers ?? [])
    if (l.meta?.kind === 'auto') {
      delete l.meta.policy;
      l.meta.kind = 'external';
    }
};

const withAdopt = (pattern: string) =>
  fixture('retention').config.replace(
    '    maxDeletesPerRun: 2\n',
    `    maxDeletesPerRun: 2\n    adopt: "${pattern}"\n`,
  );

const deletesOf110 = (lines: string[]) =>
  lines.filter((l) => l.startsWith('snapshot.vm-110-disk-0@') && l.endsWith(': delete'));

describe('a policy that adopts others’ snapshots by name', () => {
  it('prunes matching snapshots by the policy’s retention, and never others’ snapshots it does not adopt', () => {
    const asOwn = deletesOf110(changeLines(planFixture('retention', { allowMassDelete: true })));
    expect(asOwn).toHaveLength(3);
    const notAdopted = planFixture('retention', { allowMassDelete: true }, undefined, othersSnapshots);
    expect(deletesOf110(changeLines(notAdopted))).toEqual([]);
    const adopted = planFixture('retention', { allowMassDelete: true }, withAdopt('^auto-'), othersSnapshots);
    expect(deletesOf110(changeLines(adopted))).toEqual(asOwn);
    // Adopted snapshots satisfy the schedule as its own do: the 12:00 one is the newest.
    const takes = (lines: string[]) =>
      lines.filter((l) => l.startsWith('snapshot.vm-110-disk-0@') && l.endsWith(': snapshot'));
    expect(takes(changeLines(adopted))).toEqual(
      takes(changeLines(planFixture('retention', { allowMassDelete: true }))),
    );
    expect(takes(changeLines(notAdopted))).toHaveLength(1);
    const otherName = planFixture(
      'retention',
      { allowMassDelete: true },
      withAdopt('^autohourly'),
      othersSnapshots,
    );
    expect(deletesOf110(changeLines(otherName))).toEqual([]);
  });

  it('refuses a pattern that is no regular expression, naming the key', () => {
    let error: unknown;
    try {
      loadConfigText(withAdopt('^auto('), '/configs/lvchain.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(['policies.hourly.adopt']);
    expect(issues[0]?.message).toMatch(/^"\^auto\(" is not a regular expression: .*/);
  });
});
