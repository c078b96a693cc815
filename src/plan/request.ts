/** What a plan is asked for, and what its mode lets it change. */
import type { Desired } from '../model/desired.js';
import type { Observed } from '../model/observed.js';
import type { DirectionOverride } from './merge.js';
import type { RollbackRequest } from './rollback-change.js';

export type PlanMode = 'full' | 'reconcile' | 'rollback';

export interface PlanRequest {
  desired: Desired;
  observed: Observed;
  /** Epoch ms: schedules and retention are evaluated at this instant. */
  now: number;
  mode: PlanMode;
  allowDestroy: boolean;
  targets: readonly string[];
  mergeDirection: DirectionOverride;
  rollback?: RollbackRequest;
  /** Prune with count rules only: this run's snapshot step failed (DESIGN §7). */
  conservativeRetention?: boolean;
  /** Plan no due snapshots (reconcile's pruning pass). */
  skipSchedules?: boolean;
  /** Plan no retention deletions (reconcile's first pass, which only creates and resumes). */
  skipRetention?: boolean;
  /** Accept more deletions than maxDeletesPerRun, or a clock behind the newest snapshot. */
  allowMassDelete?: boolean;
  /** Locks this run holds: a held lock with one of these IDs is not another applier. */
  ownLockIds?: readonly string[];
}

/**
 * The kinds of change a run may plan. Only `apply` (mode full) makes the storage match the
 * config; reconcile takes due snapshots, prunes and finishes interrupted work.
 */
export interface Allowed {
  /** Create declared disks, grow them, and bring their protect and guest tags in line. */
  shapeDisks: boolean;
  /** Take newly declared pinned snapshots, and drop pinned ones no longer declared. */
  pins: boolean;
  /** Deal with what the config does not declare: destroy undeclared disks, report foreign objects. */
  undeclared: boolean;
  schedules: boolean;
  retention: boolean;
}

export function allowedBy(req: PlanRequest): Allowed {
  const full = req.mode === 'full';
  return {
    shapeDisks: full,
    pins: full,
    undeclared: full,
    schedules: !req.skipSchedules,
    retention: !req.skipRetention,
  };
}
