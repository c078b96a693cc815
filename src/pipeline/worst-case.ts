/**
 * `validate` prints the storage the declared disks need in the worst case. It touches no host:
 * sizes are measured with the local qemu-img when there is one, and estimated otherwise.
 */
import type { Desired } from '../model/desired.js';
import type { Measurement } from '../model/observed.js';
import { LocalExecutor } from '../exec/local.js';
import { measureSizes } from '../engines/offline/index.js';
import { estimatedMeasurement, sizingOf } from '../plan/sizing.js';
import { declaredWorstCase } from '../plan/worst-case.js';
import { isLvchainError } from '../base/errors.js';

export interface WorstCase {
  storage: string;
  kind: 'lvm' | 'dir';
  bytes: number | null;
  measured: boolean;
}

/** LVM's default extent: the VG does not have to exist yet. */
const DEFAULT_EXTENT = 4 * 2 ** 20;

export async function worstCases(desired: Desired): Promise<WorstCase[]> {
  const sizes = [...new Set(Object.values(desired.disks).map((d) => d.size))];
  let measure: (v: number) => Measurement;
  let measured = true;
  try {
    const m = await measureSizes(new LocalExecutor(), sizes);
    measure = (v) => m[v] as Measurement;
  } catch (e) {
    if (!isLvchainError(e) || e.code !== 'tool_missing') throw e;
    measured = false;
    measure = estimatedMeasurement;
  }
  return Object.values(desired.storages).map((s) => {
    const sizing = sizingOf(measure, s.kind === 'lvm' ? DEFAULT_EXTENT : undefined);
    const bytes = declaredWorstCase(
      desired,
      s.name,
      (d) => sizing.capacityFor?.(d.size) ?? sizing.fullyAllocated(d.size),
    );
    return { storage: s.name, kind: s.kind, bytes, measured };
  });
}
