import type { Intent, SnapshotKind } from './intent.js';

/**
 * How consistent a snapshot of a running VM is: `fs` when the guest agent froze its file
 * systems, `crash` when it did not (a transaction over all disks is always crash-consistent).
 * Offline snapshots carry none.
 */
export type Consistency = 'fs' | 'crash';

/** `external`: adopted by `lvchain import`; never deleted unless declared and then removed. */
export type LayerKind = SnapshotKind | 'external';

/**
 * lvchain's metadata on one layer: LV tags on LVM, a sidecar entry on directories.
 * A layer without it is not owned and is never changed.
 */
export interface LayerMeta {
  disk: string;
  /** Set on snapshot layers; must agree with the layer's name. */
  snap?: string;
  /** UTC instant, ISO 8601. */
  created?: string;
  kind?: LayerKind;
  policy?: string;
  guest?: string;
  /**
   * The layer's virtual size, mirrored from its qcow2 header so a plan can decide without
   * reading headers (DESIGN §5). Apply reads the header before acting; the header wins.
   */
  size?: number;
  consistency?: Consistency;
  /**
   * Set on a snapshot a live commit merged the top into, once the running VM writes to it: the
   * old top is stale from then on, so a resume renames instead of committing again.
   */
  pivoted?: boolean;
  /** Set on the top: destroying this disk is refused. */
  protect?: boolean;
  /** The layer is allocated but not yet (completely) formatted. */
  incomplete?: boolean;
  intent?: Intent;
}

export function sameMeta(a: LayerMeta | undefined, b: LayerMeta | undefined): boolean {
  return JSON.stringify(canonicalMeta(a)) === JSON.stringify(canonicalMeta(b));
}

export function canonicalMeta(m: LayerMeta | undefined): unknown {
  if (m === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(m).sort() as (keyof LayerMeta)[]) {
    const v = m[key];
    if (v === undefined || v === false) continue;
    out[key] = v;
  }
  return out;
}
