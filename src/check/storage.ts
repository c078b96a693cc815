/** The checks of a storage itself: reachable and present, free space, and the LVM metadata area. */
import type { DesiredStorage } from '../model/desired.js';
import type { ObservedStorage, ObservedVolumeGroup } from '../model/observed.js';
import { formatBytes } from '../base/units.js';
import { metadataPerLv, reserveBytes } from '../plan/capacity.js';
import type { CheckResult, StorageObservation } from './report.js';

/** LVM metadata: WARNING when less than this fraction of the usable area is free. */
export const METADATA_WARN_FRACTION = 0.2;

function described(storage: DesiredStorage): { kind: string; where: string } {
  return {
    kind: storage.kind === 'lvm' ? 'volume group' : 'directory',
    where: storage.kind === 'lvm' ? (storage.host ? ` on host ${storage.host}` : ' on this machine') : '',
  };
}

/** The only result of a storage that was not observed, or does not exist: nothing on it can be checked. */
export function unavailableResult(storage: DesiredStorage, obs: StorageObservation | undefined): CheckResult {
  const name = storage.name;
  const at = { storage: name };
  if (!obs || !obs.ok) {
    const why = obs ? obs.error : 'it was not observed';
    return {
      check: 'storage',
      status: 'UNKNOWN',
      message: `could not be checked: ${why}`,
      ...at,
      values: { up: false, error_code: obs ? obs.code : null },
    };
  }
  const { kind, where } = described(storage);
  const creates = storage.kind === 'dir' || storage.pvs.length > 0;
  return {
    check: 'storage',
    status: creates ? 'WARNING' : 'CRITICAL',
    message: creates
      ? `${kind} ${name} does not exist yet${where}; "lvchain apply" creates it`
      : `${kind} ${name} does not exist${where}`,
    ...at,
    values: { up: true, exists: false },
  };
}

/** The storage, space and (LVM) metadata results of a storage that exists. */
export function storageResults(
  storage: DesiredStorage,
  observed: ObservedStorage,
  declaredDisks: number,
  busy: string | undefined,
): CheckResult[] {
  const name = storage.name;
  const { kind, where } = described(storage);
  const results: CheckResult[] = [];
  results.push({
    check: 'storage',
    status: observed.errors.length > 0 ? 'CRITICAL' : 'OK',
    message:
      observed.errors.length > 0
        ? observed.errors.join('; ')
        : `${kind} ${name}${where}: ${declaredDisks} declared disk(s), ${observed.foreign.length} object(s) not lvchain's${busy ? `; ${busy}` : ''}`,
    storage: name,
    values: {
      up: true,
      exists: true,
      kind: storage.kind,
      foreign_objects: observed.foreign.length,
      locked: observed.lockHeldBy !== undefined,
    },
  });
  results.push(spaceResult(storage, observed));
  if (observed.kind === 'lvm') results.push(metadataResult(observed));
  return results;
}

function spaceResult(storage: DesiredStorage, observed: ObservedStorage): CheckResult {
  const reserve = reserveBytes(storage.reserve, observed.size);
  const low = observed.free < reserve;
  return {
    check: 'space',
    status: low ? 'WARNING' : 'OK',
    message: low
      ? `free space ${formatBytes(observed.free)} is below the reserve of ${formatBytes(reserve)} (size ${formatBytes(observed.size)}); plans that need space are refused`
      : `free ${formatBytes(observed.free)} of ${formatBytes(observed.size)}, reserve ${formatBytes(reserve)}`,
    storage: storage.name,
    values: { free_bytes: observed.free, size_bytes: observed.size, reserve_bytes: reserve },
  };
}

function metadataResult(observed: ObservedVolumeGroup): CheckResult {
  const usable = observed.mdaSize / 2;
  const low = observed.mdaFree < METADATA_WARN_FRACTION * usable;
  const fit = Math.max(0, Math.floor(observed.mdaFree / metadataPerLv(observed)));
  return {
    check: 'metadata',
    status: low ? 'WARNING' : 'OK',
    message: low
      ? `the LVM metadata area is nearly full: ${observed.mdaFree} bytes free of about ${usable} usable (room for about ${fit} more LVs); remove LVs or enlarge the metadata area`
      : `metadata area: ${observed.mdaFree} bytes free of about ${usable} usable (room for about ${fit} more LVs)`,
    storage: observed.name,
    values: {
      metadata_free_bytes: observed.mdaFree,
      metadata_size_bytes: observed.mdaSize,
      lv_count: observed.lvCount,
      lvs_that_fit: fit,
    },
  };
}

/**
 * Who is changing the storage right now, if anyone holds its applier lock: an intent found then
 * belongs to a run in progress, not to an interrupted one. (A run stuck for good still shows, as
 * its group's snapshots grow late.)
 */
export function runningOn(observed: ObservedStorage): string | undefined {
  const holder = observed.lockHeldBy;
  if (holder === undefined) return undefined;
  if (holder === 'unknown') return 'an lvchain run holds its lock';
  return `an lvchain run holds its lock: ${holder.operation} by ${holder.who} since ${holder.created} (lock ${holder.id})`;
}
