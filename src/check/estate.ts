/**
 * `lvchain list`: one row per declared disk, from the same observation and health results as
 * `check`, so the two never disagree about a disk.
 */
import type { Desired } from '../model/desired.js';
import { snapshotGroupOf } from '../model/desired.js';
import type { HealthReport, StorageObservation } from './report.js';
import type { HealthStatus } from './status.js';
import { worse } from './status.js';

export interface EstateRow {
  disk: string;
  storage: string;
  guest?: string;
  /** The declared virtual size, bytes. */
  size: number;
  /** Layers in the disk's chain (the top and its snapshots); null when the storage was not read. */
  layers: number | null;
  snapshots: number | null;
  /** Bytes the layers allocate on the storage. */
  allocated: number | null;
  /** The newest snapshot by its recorded time. */
  last?: { snap: string; created: string };
  status: HealthStatus;
  /** What is not OK about it, one line each, as `check` says it. */
  problems: string[];
}

export function estateRows(
  desired: Desired,
  storages: Readonly<Record<string, StorageObservation>>,
  report: HealthReport,
): EstateRow[] {
  return Object.values(desired.disks)
    .sort((a, b) => a.storage.localeCompare(b.storage) || a.name.localeCompare(b.name))
    .map((d) => {
      const seen = storages[d.storage];
      const observed = seen?.ok ? (seen.observed.disks[d.name]?.layers ?? []) : null;
      const inChain = observed?.filter((l) => l.ref.role !== 'trash') ?? null;
      const snaps = inChain?.filter((l) => l.ref.role === 'snapshot') ?? [];
      const newest = snaps
        .flatMap((l) =>
          l.ref.role === 'snapshot' && l.meta?.created ? [{ snap: l.ref.snap, created: l.meta.created }] : [],
        )
        .sort((a, b) => b.created.localeCompare(a.created))[0];
      const group = snapshotGroupOf(d);
      const mine = report.results.filter(
        (r) =>
          r.disk === d.name ||
          r.group === group ||
          (r.storage === d.storage && r.disk === undefined && r.group === undefined),
      );
      return {
        disk: d.name,
        storage: d.storage,
        ...(d.guest !== undefined ? { guest: d.guest } : {}),
        size: d.size,
        layers: inChain?.length ?? null,
        snapshots: inChain ? snaps.length : null,
        allocated: observed ? observed.reduce((sum, l) => sum + l.bytes, 0) : null,
        ...(newest ? { last: newest } : {}),
        status: mine.reduce<HealthStatus>((s, r) => worse(s, r.status), 'OK'),
        problems: mine.filter((r) => r.status !== 'OK').map((r) => r.message),
      };
    });
}
