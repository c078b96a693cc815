/**
 * A synthetic desired and observed state, built in memory with no host involved: `disks`
 * disks of `layers` layers each on one volume group, where every tenth disk has a pinned
 * snapshot removed (a merge to estimate) and every tenth another added (a snapshot to take).
 */
import type { Desired } from '../src/model/desired.js';
import type { Observed, ObservedLayer, ObservedVolumeGroup } from '../src/model/observed.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export function synthetic(disks: number, layers: number): { desired: Desired; observed: Observed } {
  const size = 32 * GiB;
  const extent = 4 * MiB;
  const lvSize = Math.ceil((size + 5 * MiB) / extent) * extent;
  const desired: Desired = {
    source: '/synthetic/lvchain.yaml',
    hosts: {},
    storages: {
      vg_bench: {
        kind: 'lvm',
        name: 'vg_bench',
        pvs: [],
        reserve: { kind: 'percent', value: 5 },
        wipe: 'none',
      },
    },
    policies: {},
    guests: {},
    disks: {},
  };
  const vg: ObservedVolumeGroup = {
    kind: 'lvm',
    name: 'vg_bench',
    exists: true,
    free: 400 * 1024 * GiB,
    size: 2000 * 1024 * GiB,
    extentSize: extent,
    mdaFree: 64 * MiB,
    mdaSize: 128 * MiB,
    lvCount: disks * layers,
    disks: {},
    foreign: [],
    measurements: { [size]: { required: 5 * MiB, fullyAllocated: size + 5 * MiB } },
    errors: [],
  };
  for (let d = 0; d < disks; d++) {
    const name = `vm-${100000 + d}-disk-0`;
    const snaps = Array.from({ length: layers - 1 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const pinned = snaps.filter((s, i) => !(d % 10 === 3 && i === 7));
    if (d % 10 === 5) pinned.push('new');
    desired.disks[name] = { name, storage: 'vg_bench', size, protect: false, pinned: pinned.sort() };
    const obsLayers: ObservedLayer[] = [];
    for (let i = 0; i < layers; i++) {
      const snap = snaps[i];
      const ref = snap ? ({ role: 'snapshot', snap } as const) : ({ role: 'top' } as const);
      const lvName = snap ? `snap_${name}_${snap}.qcow2` : `${name}.qcow2`;
      const below = i === 0 ? undefined : snaps[i - 1];
      obsLayers.push({
        ref,
        name: lvName,
        meta: snap
          ? {
              disk: name,
              snap,
              created: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString().replace('.000Z', 'Z'),
              kind: 'pinned',
            }
          : { disk: name },
        header: {
          state: 'read',
          header: {
            format: 'qcow2',
            virtualSize: size,
            clusterSize: 131072,
            extendedL2: true,
            dirty: false,
            corrupt: false,
            ...(below ? { backingName: `snap_${name}_${below}.qcow2`, backingFormat: 'qcow2' } : {}),
          },
          backing: below ? { kind: 'layer', ref: { role: 'snapshot', snap: below } } : { kind: 'none' },
        },
        bytes: lvSize,
        capacity: lvSize,
        lv: { uuid: `uuid-${d}-${i}`, active: true, attr: '-wi-a-----', tags: [] },
        extents: { data: [[i * 64 * MiB, i * 64 * MiB + (1 + (i % 5)) * MiB]], zero: [] },
      });
    }
    vg.disks[name] = { name, storage: 'vg_bench', layers: obsLayers };
  }
  return { desired, observed: { storages: { vg_bench: vg } } };
}
