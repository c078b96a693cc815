import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  lvTimeIso,
  parseLvs,
  parseVgReport,
  parseVgs,
  parseWipefs,
  splitTags,
} from '../../../src/storage/lvm/report.js';
import { metaToTags, tagDiff, tagsToMeta } from '../../../src/storage/lvm/tags.js';
import { lvName, parseLvName, proxmoxTags } from '../../../src/storage/lvm/layout.js';
import { layerFileName, parseLayerFileName } from '../../../src/model/layer-names.js';
import type { LayerMeta } from '../../../src/model/meta.js';
import type { LayerRef } from '../../../src/model/layer.js';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/lvm', name), 'utf8');

describe('LVM report parsers (fixtures captured in the lab VM by test/fixtures/lvm/capture.ts)', () => {
  it('reads vgs and lvs with byte sizes, tags and activation', () => {
    const [vg] = parseVgs(fixture('vgs.json'));
    expect(vg).toMatchObject({
      vg_name: 'vg_fix',
      vg_extent_size: 4194304,
      vg_mda_size: 1044480,
      lv_count: 4,
    });
    const lvs = parseLvs(fixture('lvs.json'));
    expect(lvs.map((l) => l.lv_name)).toEqual([
      'foreign-data',
      'snap_vm-401-disk-0_s1.qcow2',
      'vm-401-disk-0.qcow2',
      'vm-402-disk-0.qcow2',
    ]);
    const inactive = lvs.find((l) => l.lv_name === 'vm-402-disk-0.qcow2');
    expect(inactive?.lv_active).toBe('');
    expect(lvs[1]?.lv_size).toBe(8388608);
    expect(splitTags(lvs[1]?.lv_tags ?? '')).toContain('lvchain.snap=s1');
    expect(splitTags(lvs[0]?.lv_tags ?? '')).toEqual([]);
    expect(lvTimeIso(lvs[0]?.lv_time ?? '')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(lvTimeIso('2026-11-21 23:44:41 +0100')).toBe('2026-11-21T22:44:41Z');
  });

  it('reads an empty report for a missing VG', () => {
    expect(parseVgs(fixture('vgs-missing.json'))).toEqual([]);
    expect(fixture('vgs-missing.stderr.txt')).toMatch(/^exit 5\n.*Volume group "vg_absent" not found/);
  });

  it("reads the plan's one pvs report: the VG's devices, fields and LVs, as lvs lists them", () => {
    const report = parseVgReport(fixture('pvs-report.json'));
    expect(report?.vg).toMatchObject({ vg_name: 'vg_fix', vg_extent_size: 4194304, lv_count: 4 });
    expect(report?.pvs).toEqual(['/dev/vda']);
    // foreign-data has two segments, the free space a row of its own: each LV once, as lvs has them.
    const withoutPv = (row: object) =>
      Object.fromEntries(Object.entries(row).filter(([k]) => k !== 'pv_name'));
    expect(report?.lvs?.map(withoutPv)).toEqual(parseLvs(fixture('lvs-with-vg.json')));
    expect(report?.lvs?.find((l) => l.lv_name === 'foreign-data')?.lv_size).toBe(12 * 1024 ** 2);
  });

  it('leaves the LVs to lvs when one has no PV segment, and reads a VG without LVs and a missing one', () => {
    const virtual = parseVgReport(fixture('pvs-report-virtual.json'));
    expect(virtual?.vg.lv_count).toBe(5);
    expect(virtual?.pvs).toEqual(['/dev/vda']);
    expect(virtual?.lvs, 'the error-type LV is on no PV: lvs must list the LVs').toBeUndefined();
    const empty = parseVgReport(fixture('pvs-report-empty.json'));
    expect(empty).toMatchObject({ vg: { vg_name: 'vg_empty', lv_count: 0 }, pvs: ['/dev/vdb'], lvs: [] });
    expect(parseVgReport(fixture('pvs-report-absent.json'))).toBeUndefined();
    expect(fixture('pvs-report-absent.exit.txt')).toBe('exit 0\n');
  });

  it('reads wipefs signatures; a blank device has none', () => {
    expect(parseWipefs(fixture('wipefs-pv.json'))).toEqual(['LVM2_member at 0x218']);
    expect(parseWipefs(fixture('wipefs-blank.json'))).toEqual([]);
  });
});

describe('lvchain metadata as LV tags', () => {
  it('reads the tags lvchain wrote in the fixture, including an intent', () => {
    const rows = parseLvs(fixture('lvs.json'));
    expect(tagsToMeta(splitTags(rows[1]?.lv_tags ?? '')).meta).toEqual({
      disk: 'vm-401-disk-0',
      snap: 's1',
      created: '2026-11-20T10:00:00Z',
      kind: 'pinned',
    });
    expect(tagsToMeta(splitTags(rows[2]?.lv_tags ?? '')).meta?.intent).toEqual({
      op: 'delete',
      snap: 's1',
      direction: 'stream',
    });
    expect(
      tagsToMeta(splitTags(rows[3]?.lv_tags ?? '')).meta,
      'Proxmox tags alone are not ownership',
    ).toBeUndefined();
  });

  it('round-trips any metadata through tags, in LVM tag characters', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,20}$/);
    const meta: fc.Arbitrary<LayerMeta> = fc.record(
      {
        disk: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,30}[a-z0-9]$/),
        snap: name,
        created: fc
          .date({ min: new Date('2000-01-01'), max: new Date('2099-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')),
        kind: fc.constantFrom('auto' as const, 'pinned' as const, 'external' as const),
        policy: name,
        guest: name,
        size: fc.nat(),
        consistency: fc.constantFrom('fs' as const, 'crash' as const),
        pivoted: fc.constant(true),
        protect: fc.constant(true),
        incomplete: fc.constant(true),
        intent: fc.constantFrom(
          { op: 'create' as const, size: 4096 },
          { op: 'delete' as const, snap: 's1', direction: 'commit' as const },
          { op: 'destroy' as const },
        ),
      },
      { requiredKeys: ['disk'] },
    );
    fc.assert(
      fc.property(meta, (m) => {
        const tags = metaToTags(m);
        for (const t of tags) expect(t).toMatch(/^[A-Za-z0-9_+.\-/=!:&#]+$/);
        expect(tagsToMeta(tags)).toEqual({ meta: m, problems: [] });
      }),
    );
  });

  it('changes tags by difference and leaves foreign tags alone', () => {
    const from: LayerMeta = { disk: 'd', size: 1, incomplete: true, intent: { op: 'create', size: 1 } };
    expect(tagDiff(from, { disk: 'd', size: 1 })).toEqual({
      add: [],
      del: ['lvchain.incomplete', 'lvchain.intent=create/1'],
    });
    expect(tagDiff(null, { disk: 'd' })).toEqual({ add: ['lvchain.disk=d'], del: [] });
  });

  it('reports malformed lvchain tags instead of guessing', () => {
    const r = tagsToMeta([
      'lvchain.disk=d',
      'lvchain.intent=explode/now',
      'lvchain.created=yesterday',
      'lvchain.consistency=app',
    ]);
    expect(r.meta).toEqual({ disk: 'd' });
    expect(r.problems).toEqual([
      'lvchain.created=yesterday is not a UTC instant',
      'lvchain.consistency=app is unknown',
      'lvchain.intent=explode/now is not an intent lvchain writes',
    ]);
  });
});

describe('Proxmox VE 9 LV names', () => {
  it('names layers like Proxmox and parses them back, snapshot names with underscores included (fix #6587)', () => {
    const refs: LayerRef[] = [
      { role: 'top' },
      { role: 'snapshot', snap: 'pre_upgrade-2' },
      { role: 'trash', of: { role: 'snapshot', snap: 's1' } },
    ];
    for (const ref of refs)
      expect(parseLvName(lvName('vm-401-disk-0', ref), new Set(['vm-401-disk-0']))).toEqual({
        disk: 'vm-401-disk-0',
        ref,
      });
    expect(lvName('vm-401-disk-0', { role: 'snapshot', snap: 's1' })).toBe('snap_vm-401-disk-0_s1.qcow2');
  });

  it('parses against the longest known disk first', () => {
    expect(parseLvName('snap_vm-1-disk-0_x_y.qcow2', new Set(['vm-1-disk-0', 'vm-1-disk-0_x']))).toEqual({
      disk: 'vm-1-disk-0_x',
      ref: { role: 'snapshot', snap: 'y' },
    });
    expect(parseLvName('foreign-data', new Set(['vm-1-disk-0']))).toBeUndefined();
  });

  it('parses every name as the longest known disk that gives exactly that name, on both storages', () => {
    // The oracle: try each known disk, longest first, with each layer its name could be.
    const brute = (name: string, disks: string[], nameOf: (d: string, r: LayerRef) => string) => {
      const byLength = [...disks].sort((a, b) => b.length - a.length);
      const layersNamedIn = (inner: string): LayerRef[] => {
        const refs: LayerRef[] = [{ role: 'top' }];
        for (let i = 0; i < inner.length; i++)
          for (let j = i + 1; j <= inner.length; j++) {
            const snap = inner.slice(i, j);
            if (/^[A-Za-z][A-Za-z0-9_-]*$/.test(snap)) refs.push({ role: 'snapshot', snap });
          }
        return refs;
      };
      const trash = name.startsWith('del-');
      const inner = trash ? name.slice(4) : name;
      for (const d of byLength)
        for (const ref of layersNamedIn(inner))
          if (nameOf(d, ref) === inner)
            return { disk: d, ref: trash ? { role: 'trash' as const, of: ref } : ref };
      return undefined;
    };
    const part = fc.stringMatching(/^[a-z][a-z_-]{0,3}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(part, { minLength: 1, maxLength: 5 }),
        fc.nat(4),
        part.filter((x) => /^[A-Za-z]/.test(x)),
        fc.constantFrom('top', 'snapshot', 'trash'),
        (disks, pick, snap, role) => {
          const disk = disks[pick % disks.length] as string;
          const base: LayerRef = role === 'top' ? { role: 'top' } : { role: 'snapshot', snap };
          const ref: LayerRef = role === 'trash' ? { role: 'trash', of: base } : base;
          for (const [nameOf, parse] of [
            [lvName, parseLvName],
            [layerFileName, parseLayerFileName],
          ] as const) {
            const name = nameOf(disk, ref);
            expect(parse(name, new Set(disks))).toEqual(brute(name, disks, nameOf));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("carries Proxmox's tags for vm- disks only", () => {
    expect(proxmoxTags('vm-401-disk-0')).toEqual(['pve-vm-401', 'pve-vm-401-disk-0.qcow2']);
    expect(proxmoxTags('data-disk')).toEqual([]);
  });
});
