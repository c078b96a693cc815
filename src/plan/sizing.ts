/** Sizes the planner allocates with, from `qemu-img measure` and the storage's geometry. */
import type { Measurement, ObservedStorage, ObservedVolumeGroup } from '../model/observed.js';
import type { Sizing } from './state.js';
import { STREAM_WINDOW_BYTES } from '../model/extents.js';

const MiB = 1024 * 1024;

/** Generous: 16 bytes of L2 and 2 of refcount per 128 KiB cluster, plus a few MiB. */
export function estimatedMeasurement(virtualSize: number): Measurement {
  const tables = Math.ceil(virtualSize / 131072) * 18;
  return { required: 4 * MiB + tables, fullyAllocated: virtualSize + tables + 4 * MiB };
}

/** How a storage lays out an image: LVs round up to whole extents, files take what they need. */
export function sizingOf(
  measure: (virtualSize: number) => Measurement,
  extentSize: number | undefined,
): Sizing {
  if (extentSize !== undefined) {
    return {
      capacityFor: (v) => Math.ceil(measure(v).fullyAllocated / extentSize) * extentSize,
      formattedBytes: (v) => measure(v).required,
      fullyAllocated: (v) => measure(v).fullyAllocated,
    };
  }
  return { formattedBytes: (v) => measure(v).required, fullyAllocated: (v) => measure(v).fullyAllocated };
}

/**
 * LV sizes from `qemu-img measure`. A size not measured yet is recorded in `missing` and
 * estimated, so a first pass can find out which sizes the plan needs; the final pass has them.
 * Without `missing`, an unmeasured size is a bug.
 */
export function sizingFor(storage: ObservedStorage, missing?: Set<number>): Sizing {
  const cache = new Map<number, Measurement>();
  const measure = (v: number): Measurement => {
    let m = cache.get(v);
    if (!m) {
      m = storage.measurements[v];
      if (!m) {
        if (!missing) throw new Error(`no qemu-img measurement of ${v} bytes for storage ${storage.name}`);
        missing.add(v);
        m = estimatedMeasurement(v);
      }
      cache.set(v, m);
    }
    return m;
  };
  const sizing = sizingOf(measure, storage.kind === 'lvm' ? storage.extentSize : undefined);
  // On LVM the stream is `qemu-img rebase`, which writes only what differs.
  return storage.kind === 'dir' ? { ...sizing, streamWindowBytes: STREAM_WINDOW_BYTES } : sizing;
}

/**
 * The VG `pvs:` would create, if every device is there and blank: LVM's defaults of 4 MiB
 * extents, data starting at 1 MiB, and a 1 MiB metadata area (about half usable).
 */
export function prospectiveVg(
  pvs: readonly string[],
  observed: ObservedVolumeGroup,
): { observed: ObservedVolumeGroup; devices: string[] } | { error: string } {
  const devices = observed.devices ?? [];
  const missing = pvs.filter((p) => !devices.some((d) => d.path === p && d.exists));
  if (missing.length > 0)
    return { error: `${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist on the host` };
  const used = devices.filter((d) => d.signatures.length > 0);
  if (used.length > 0)
    return { error: used.map((d) => `${d.path} is not blank: ${d.signatures.join(', ')}`).join('; ') };
  const extent = observed.extentSize;
  const size = devices.reduce((sum, d) => sum + Math.max(0, Math.floor((d.size - MiB) / extent) * extent), 0);
  return {
    devices: [...pvs],
    observed: { ...observed, exists: true, size, free: size, mdaSize: 1044480, mdaFree: 520704, lvCount: 0 },
  };
}
