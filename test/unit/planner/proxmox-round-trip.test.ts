/**
 * Proxmox VE acting on a chain lvchain made (issue 11 part 5). Fixture `chains`, disk
 * vm-106-disk-0 (s0 ← s1 ← top, all lvchain's), changed the way Proxmox's storage code changes
 * it: its commands rename layers and LV tags travel with them, and the layers it creates carry
 * none (reference §4.1, §5.1, §6). The planner must recognise that from names and links and
 * re-derive the metadata, keeping every recorded time, instead of leaving the disk alone.
 */
import { describe, expect, it } from 'vitest';
import type { Observed, ObservedDisk, ObservedLayer, ObservedStorage } from '../../../src/model/observed.js';
import { adoptDisk } from '../../../src/plan/adopt.js';
import { sizingFor } from '../../../src/plan/sizing.js';
import type { Plan, Step } from '../../../src/model/plan.js';
import { snapRef, TOP } from '../../../src/model/layer.js';
import { renderPlanText } from '../../../src/render/text.js';
import { makeStyle } from '../../../src/render/style.js';
import { renderPlanMarkdown } from '../../../src/render/markdown.js';
import { change, fixture, planFixture } from './plan-fixture.js';

const DISK = 'vm-106-disk-0';
const ADDRESS = `disk.${DISK}`;
const LATER = '2026-12-05T01:00:00Z';

/** The fixture's config with vm-106's pin of s0 dropped, as after Proxmox deleted s0. */
function withoutS0(): string {
  const config = fixture('chains').config;
  const pins = '    snapshots:\n      s0: {}\n      s1: {}\n';
  const at = config.lastIndexOf(pins);
  if (at < 0 || !config.slice(0, at).endsWith('size: 16MiB\n')) throw new Error('fixture chains changed');
  return config.slice(0, at) + '    snapshots:\n      s1: {}\n' + config.slice(at + pins.length);
}

function disk106(o: Observed): ObservedDisk {
  return o.storages['lab']?.disks[DISK] as ObservedDisk;
}
function layerOf(d: ObservedDisk, name: string): ObservedLayer {
  const l = d.layers.find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name}`);
  return l;
}

/** §5.1, S without parent: commit s1 into s0, remove s1, rename s0 to s1's name (tags and all). */
function deleteOldest(o: Observed): void {
  const d = disk106(o);
  const s0 = layerOf(d, `snap-s0-${DISK}.qcow2`);
  d.layers = d.layers.filter((l) => l.name !== `snap-s1-${DISK}.qcow2`);
  s0.name = `snap-s1-${DISK}.qcow2`;
  s0.ref = snapRef('s1');
}

/** §6: remove the top, create a new untagged one on s1. */
function rollBack(o: Observed): void {
  const top = layerOf(disk106(o), `${DISK}.qcow2`);
  delete top.meta;
  top.born = LATER;
}

/** §4.1: rename the top (with its tags) to snapshot pve1, create a new untagged top on it. */
function snapshotPve1(o: Observed): void {
  const d = disk106(o);
  const old = layerOf(d, `${DISK}.qcow2`);
  const fresh: ObservedLayer = JSON.parse(JSON.stringify(old)) as ObservedLayer;
  old.name = `snap-pve1-${DISK}.qcow2`;
  old.ref = snapRef('pve1');
  delete fresh.meta;
  fresh.born = LATER;
  if (fresh.header.state === 'read') fresh.header.backing = { kind: 'layer', ref: snapRef('pve1') };
  d.layers.push(fresh);
}

function metaSteps(plan: Plan): Step[] {
  return change(plan, ADDRESS).x_steps.map((s) => s.step);
}

describe('a chain Proxmox changed', () => {
  it('after Proxmox deleted the oldest snapshot, re-derives the renamed layer as s1 and marks its time as an estimate', () => {
    const plan = planFixture('chains', {}, withoutS0(), deleteOldest);
    expect(plan.resource_drift.filter((d) => d.disk === DISK)).toEqual([]);
    const c = change(plan, ADDRESS);
    expect(c.action_reason).toBe('proxmox_changed');
    expect(c.reason_detail).toBe(
      'Proxmox merged s0 into s1 (renamed); metadata re-derived from layer names and links',
    );
    // s1's own record went with its layer; the top was created when s1 was taken.
    expect(c.operation).toEqual({
      op: 'rederive',
      found: ['Proxmox merged s0 into s1 (renamed)'],
      estimated: [{ snap: 's1', at: '2026-12-04T15:35:15Z', from: 'child_created' }],
    });
    expect(metaSteps(plan)).toEqual([
      {
        kind: 'set_meta',
        layer: snapRef('s1'),
        meta: { disk: DISK, snap: 's1', created: '2026-12-04T15:35:15Z', kind: 'pinned', size: 16777216 },
        purpose: 'update',
        from: { disk: DISK, snap: 's0', created: '2026-11-19T06:30:00Z', kind: 'pinned', size: 16777216 },
      },
    ]);
    const text = renderPlanText(plan, { style: makeStyle(false) });
    const markdown = renderPlanMarkdown(plan, { target: 'lvchain.yaml' });
    expect(text).toContain(
      '# disk.vm-106-disk-0 will get its metadata re-derived: Proxmox VE changed the chain\n  # (because Proxmox merged s0 into s1 (renamed); metadata re-derived from layer names and links)',
    );
    expect(text).toContain(
      'time of s1: about 2026-12-04T15:35:15Z, estimated from when the layer above it was created (no record of it survived)',
    );
    expect(markdown).toContain(
      'Proxmox merged s0 into s1 (renamed); metadata re-derived from layer names and links',
    );
    expect(markdown).toContain(
      'time of s1: about 2026-12-04T15:35:15Z, estimated from when the layer above it was created',
    );
    // The same rename beside a problem of the disk's own (a dirty top) still leaves it alone.
    const dirty = planFixture('chains', {}, withoutS0(), (o) => {
      deleteOldest(o);
      const top = layerOf(disk106(o), `${DISK}.qcow2`);
      if (top.header.state === 'read') top.header.header.dirty = true;
    });
    expect(dirty.resource_changes.some((r) => r.disk === DISK)).toBe(false);
    expect(dirty.resource_drift.find((d) => d.disk === DISK)?.problems.map((p) => p.code)).toEqual([
      'meta_mismatch',
      'dirty',
    ]);
  });

  it('after a Proxmox rollback, adopts the new top and keeps every snapshot as recorded', () => {
    const plan = planFixture('chains', {}, undefined, rollBack);
    expect(plan.resource_drift.filter((d) => d.disk === DISK)).toEqual([]);
    const c = change(plan, ADDRESS);
    expect(c.operation).toEqual({
      op: 'rederive',
      found: [
        'Proxmox recreated the top on snapshot s1 (a rollback)',
        'adopted the layers Proxmox created: the top',
      ],
      estimated: [],
    });
    expect(metaSteps(plan)).toEqual([
      { kind: 'set_meta', layer: TOP, meta: { disk: DISK, size: 16777216 }, purpose: 'update', from: null },
    ]);
  });

  it('after a Proxmox snapshot, adopts it as external with the new top’s time as an estimate, and the new top with the old top’s settings', () => {
    const plan = planFixture('chains', {}, undefined, snapshotPve1);
    expect(plan.resource_drift.filter((d) => d.disk === DISK)).toEqual([]);
    const c = change(plan, ADDRESS);
    expect(c.operation).toEqual({
      op: 'rederive',
      found: ['Proxmox took snapshot pve1 (the top renamed)', 'adopted the layers Proxmox created: the top'],
      estimated: [{ snap: 'pve1', at: LATER, from: 'child_created' }],
    });
    expect(metaSteps(plan).map((s) => (s.kind === 'set_meta' ? [s.layer, s.meta] : s.kind))).toEqual([
      [snapRef('pve1'), { disk: DISK, snap: 'pve1', created: LATER, kind: 'external', size: 16777216 }],
      [TOP, { disk: DISK, size: 16777216 }],
    ]);
    // Retention never prunes an external snapshot, and the pins stay as they were.
    expect(plan.resource_changes.filter((r) => r.disk === DISK).map((r) => r.operation.op)).toEqual([
      'rederive',
    ]);
  });

  it('after Proxmox deleted the only snapshot (commit the top into it, rename it to the top), re-derives the top', () => {
    const disk = 'vm-103-disk-0';
    const config = fixture('chains').config.replace('      s0: {}\n      added: {}\n', '      added: {}\n');
    const plan = planFixture('chains', {}, config, (o) => {
      const d = o.storages['lab']?.disks[disk] as ObservedDisk;
      d.layers = d.layers.filter((l) => l.ref.role !== 'top');
      const s0 = layerOf(d, `snap-s0-${disk}.qcow2`);
      s0.name = `${disk}.qcow2`;
      s0.ref = TOP;
    });
    expect(plan.resource_drift.filter((d) => d.disk === disk)).toEqual([]);
    const c = change(plan, `disk.${disk}`);
    expect(c.operation).toEqual({
      op: 'rederive',
      found: ['Proxmox merged s0 into the top (renamed)'],
      estimated: [],
    });
    expect(c.x_steps.map((s) => s.step)).toEqual([
      {
        kind: 'set_meta',
        layer: TOP,
        meta: { disk, size: 16777216 },
        purpose: 'update',
        from: { disk, snap: 's0', created: '2026-11-19T06:30:00Z', kind: 'pinned', size: 16777216 },
      },
    ]);
  });

  it('import accepts the chain Proxmox changed, and never dates s1 by the tags s0 left on its layer', () => {
    const fx = fixture('chains');
    deleteOldest(fx.observed);
    const storage = fx.observed.storages['lab'] as ObservedStorage;
    const result = adoptDisk(disk106(fx.observed), sizingFor(storage), undefined);
    expect(result).toMatchObject({
      ok: true,
      snapshots: ['s1'],
      created: { s1: { at: '2026-12-04T15:35:15Z', how: 'child_created' } },
    });
    expect(result.ok && result.steps.map((s) => (s.kind === 'set_meta' ? s.meta : s.kind))).toEqual([
      { disk: DISK, snap: 's1', created: '2026-12-04T15:35:15Z', kind: 'external', size: 16777216 },
    ]);
  });
});
