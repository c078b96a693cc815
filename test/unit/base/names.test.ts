import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { NameKind } from '../../../src/base/names.js';
import {
  DISK_NAME,
  DISK_NAME_MAX,
  OBJECT_NAME,
  OBJECT_NAME_MAX,
  SNAPSHOT_NAME,
  SNAPSHOT_NAME_MAX,
  VG_NAME,
  VG_NAME_MAX,
  closest,
  editDistance,
  nameProblem,
  vmidOf,
} from '../../../src/base/names.js';

describe('nameProblem', () => {
  it.each<[NameKind, string]>([
    ['disk', 'vm-401-disk-0'],
    ['disk', 'VM-401-Disk-0'], // uppercase is allowed: LVM, qemu and file systems take it
    ['disk', 'base-9000-disk-1'],
    ['disk', 'data.raw.0'],
    ['disk', 'ab'],
    ['disk', 'x'.repeat(DISK_NAME_MAX)],
    ['snapshot', 'pre-upgrade'],
    ['snapshot', 'Before_9_1'],
    ['snapshot', 'a'.repeat(SNAPSHOT_NAME_MAX)],
    ['object', 'web-401'],
    ['object', 'pve1.example'],
    ['vg', 'vg_san1'],
    ['vg', '+vg.1'],
    ['vg', '1vg'],
  ])('%s name %j is valid', (kind, name) => {
    expect(nameProblem(kind, name)).toBeUndefined();
  });

  it.each<[NameKind, string, RegExp]>([
    ['disk', 'vm-401/disk-0', /^disk names cannot contain "\/"; use letters, digits/],
    ['disk', '..', /^disk names cannot start with "\."/],
    ['disk', 'vm 401', /^disk names cannot contain a space/],
    ['disk', 'vm\t401', /^disk names cannot contain a tab/],
    ['disk', 'vm\n401', /^disk names cannot contain a line break/],
    ['disk', 'vm\u0007401', /^disk names cannot contain the control character U\+0007/],
    ['disk', 'vm-1;reboot', /^disk names cannot contain ";"/],
    ['disk', '$(reboot)', /^disk names cannot contain "\$"/],
    ['disk', '`reboot`', /^disk names cannot contain "`"/],
    ['disk', 'vm-1|cat', /^disk names cannot contain "\|"/],
    ['disk', '-vm-401-disk-0', /^disk names cannot start with "-"/],
    ['disk', 'vm-401-disk-0-', /^disk names cannot end with "-"/],
    ['disk', 'vm-401-disk-0.', /^disk names cannot end with "\."/],
    ['disk', 'vm+1', /^disk names cannot contain "\+"/],
    ['disk', 'ü', /^disk names cannot contain "ü"/],
    ['disk', 'a', /^disk names have at least 2 characters/],
    ['disk', '', /^disk names cannot be empty/],
    ['disk', 'x'.repeat(DISK_NAME_MAX + 1), /^disk names have at most 80 characters; this one has 81$/],
    ['snapshot', 'pre/upgrade', /^snapshot names cannot contain "\/"/],
    ['snapshot', 'pre upgrade', /^snapshot names cannot contain a space/],
    ['snapshot', 'pre.upgrade', /^snapshot names cannot contain "\."/],
    ['snapshot', '2024-upgrade', /^snapshot names cannot start with "2"; use a letter/],
    ['snapshot', '_x', /^snapshot names cannot start with "_"/],
    ['snapshot', 'a'.repeat(SNAPSHOT_NAME_MAX + 1), /at most 40 characters; this one has 41/],
    ['object', '1web', /^object names cannot start with "1"/],
    ['object', 'web 401', /^object names cannot contain a space/],
    ['vg', '-vg', /^VG names cannot start with "-"/],
    ['vg', '.', /^VG names cannot be "\." or "\.\."$/],
    ['vg', '..', /^VG names cannot be "\." or "\.\."$/],
    ['vg', 'vg/1', /^VG names cannot contain "\/"/],
    ['vg', 'v'.repeat(VG_NAME_MAX + 1), /at most 127 characters/],
  ])('%s name %j: %s', (kind, name, message) => {
    expect(nameProblem(kind, name)).toMatch(message);
  });

  // The schema checks the patterns, and nameProblem explains them: they must agree.
  const rules: [NameKind, RegExp, number][] = [
    ['disk', DISK_NAME, DISK_NAME_MAX],
    ['snapshot', SNAPSHOT_NAME, SNAPSHOT_NAME_MAX],
    ['object', OBJECT_NAME, OBJECT_NAME_MAX],
    ['vg', VG_NAME, VG_NAME_MAX],
  ];
  const alphabet = fc.constantFrom(...'aZ09_-.+/ ;$`(){}\'"\\é'.split(''));
  it.each(rules)(
    '%s: nameProblem finds a problem exactly when the pattern or the length refuses',
    (kind, re, max) => {
      fc.assert(
        fc.property(fc.string({ unit: alphabet, maxLength: max + 2 }), (name) => {
          const valid =
            re.test(name) && name.length <= max && !(kind === 'vg' && (name === '.' || name === '..'));
          expect(nameProblem(kind, name) === undefined).toBe(valid);
        }),
        { numRuns: 2000 },
      );
    },
  );

  it('the patterns carry no flags, so the JSON Schema copies mean the same', () => {
    for (const [, re] of rules) expect(re.flags).toBe('');
  });
});

describe('closest and editDistance', () => {
  it.each([
    ['guest', 'guests', 1],
    ['reserv', 'reserve', 1],
    ['hourley', 'hourly', 1],
    ['sise', 'size', 1],
    ['hoursly', 'hourly', 1],
    ['retnetion', 'retention', 1], // a transposition is one edit
    ['abc', 'abc', 0],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s → %s is %d edits', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it('suggests the nearest candidate, case-insensitively, within a distance that grows with length', () => {
    expect(closest('guest', ['version', 'guests', 'disks'])).toBe('guests');
    expect(closest('VolumeGroups', ['volumeGroups', 'directories'])).toBe('volumeGroups');
    expect(closest('labs', ['lab', 'prod'])).toBe('lab');
    expect(closest('Europe/Berlinn', ['Europe/Berlin', 'Europe/Bern'])).toBe('Europe/Berlin');
    expect(
      closest('storages', ['version', 'hosts', 'volumeGroups', 'directories', 'guests', 'disks']),
    ).toBeUndefined();
    expect(closest('ab', ['xy'])).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
  });
});

describe('vmidOf', () => {
  it.each([
    ['vm-401-disk-0', '401'],
    ['base-9000-disk-1', '9000'],
    ['data', undefined],
    ['vm-x-disk-0', undefined],
  ])('%s → %s', (disk, vmid) => {
    expect(vmidOf(disk)).toBe(vmid);
  });
});
