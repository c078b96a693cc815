/**
 * Free space, simulated step by step through the plan (DESIGN §9). A plan that would go
 * below the reserve at any point, or fill an LVM metadata area, is refused before anything runs.
 */
import type { Reserve } from '../model/desired.js';
import type { ObservedStorage } from '../model/observed.js';
import type { CapacityReport, Diagnostic } from '../model/plan.js';
import type { DiskState } from './state.js';

/** Change in used bytes and LV count caused by one step. */
export interface SpaceDelta {
  bytes: number;
  lvs: number;
}

export function usedBytes(state: DiskState): number {
  let sum = 0;
  for (const l of Object.values(state.layers)) sum += l.bytes;
  return sum;
}

export function lvCount(state: DiskState): number {
  return Object.values(state.layers).filter((l) => l.capacity !== undefined).length;
}

export function deltaBetween(before: DiskState, after: DiskState): SpaceDelta {
  return { bytes: usedBytes(after) - usedBytes(before), lvs: lvCount(after) - lvCount(before) };
}

export function reserveBytes(reserve: Reserve, size: number): number {
  return reserve.kind === 'bytes' ? reserve.value : Math.ceil((size * reserve.value) / 100);
}

/**
 * Bytes of VG metadata one more LV costs. Measured in the test VM (DESIGN §9): about 375 bytes
 * for an LV with two short tags; lvchain's LVs carry more tags, so the observed average per
 * LV is used when it is larger.
 */
export function metadataPerLv(storage: ObservedStorage): number {
  if (storage.kind !== 'lvm') return 0;
  const used = storage.mdaSize - storage.mdaFree;
  const observed = storage.lvCount > 0 ? Math.ceil(used / storage.lvCount) : 0;
  return Math.max(1024, Math.min(observed, 8192));
}

export function capacityReport(
  storage: ObservedStorage,
  reserve: Reserve,
  deltas: readonly SpaceDelta[],
): CapacityReport {
  const reserveAt = reserveBytes(reserve, storage.size);
  let free = storage.free;
  let freeMin = free;
  const perLv = metadataPerLv(storage);
  let mdaFree = storage.kind === 'lvm' ? storage.mdaFree : 0;
  let mdaMin = mdaFree;
  for (const d of deltas) {
    free -= d.bytes;
    freeMin = Math.min(freeMin, free);
    mdaFree -= d.lvs * perLv;
    mdaMin = Math.min(mdaMin, mdaFree);
  }
  const consumes = freeMin < storage.free;
  const spaceOk = !consumes || freeMin >= reserveAt;
  const metaOk = storage.kind !== 'lvm' || mdaMin >= 0 || mdaMin >= storage.mdaFree;
  const report: CapacityReport = {
    storage: storage.name,
    kind: storage.kind,
    size: storage.size,
    reserve: reserveAt,
    free_before: storage.free,
    free_min: freeMin,
    free_after: free,
    ok: spaceOk && metaOk,
  };
  if (storage.kind === 'lvm')
    report.metadata = { size: storage.mdaSize, free_before: storage.mdaFree, free_min: mdaMin };
  return report;
}

/**
 * The worst case a storage must hold for its declared disks (DESIGN §9): each disk can keep
 * `retained` snapshots plus its top, and every layer can grow to `layerBytes`.
 */
export function worstCaseBytes(
  disks: readonly { retained: number | 'unbounded'; layerBytes: number }[],
): number | null {
  let sum = 0;
  for (const d of disks) {
    if (d.retained === 'unbounded') return null;
    sum += (d.retained + 1) * d.layerBytes;
  }
  return sum;
}

/** Why a plan that does not fit is refused, in the figures a person needs to act on it. */
export function capacityDiagnostic(r: CapacityReport): Diagnostic {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  if (r.metadata && r.metadata.free_min < 0) {
    return {
      severity: 'error',
      summary: `the plan would fill the LVM metadata area of ${r.storage}`,
      detail: `metadata area ${mb(r.metadata.size)}, free ${r.metadata.free_before} bytes, projected ${r.metadata.free_min} bytes at the fullest point. Remove LVs, or create the VG with a larger --metadatasize.`,
    };
  }
  return {
    severity: 'error',
    summary: `the plan does not fit on ${r.storage}: free space would drop to ${mb(r.free_min)}, below the reserve of ${mb(r.reserve)}`,
    detail: `size ${mb(r.size)}, free now ${mb(r.free_before)}, lowest point ${mb(r.free_min)}, after ${mb(r.free_after)}. Free space, lower the reserve, or plan fewer changes at once.`,
  };
}
