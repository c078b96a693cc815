/** The per-disk checks: `chain` (drift), `depth` and `interrupted`. */
import type { ObservedDisk } from '../model/observed.js';
import { describeIntent } from '../model/intent.js';
import { oneLine } from '../base/text.js';
import type { DiskView } from '../plan/interpret.js';
import type { OpContext } from '../plan/op-steps.js';
import { resume } from '../plan/ops.js';
import { chainOf, findIntents, snapshotsOf } from '../plan/state.js';
import type { HealthStatus } from './status.js';
import type { CheckResult } from './report.js';

/** Depth: WARNING beyond maxChainDepth, CRITICAL beyond this multiple of it. */
export const DEPTH_CRIT_FACTOR = 2;

export function chainExists(view: DiskView): boolean {
  return Object.keys(view.state.layers).length > 0;
}

/**
 * Depth is the number of snapshot layers in the chain, the figure maxChainDepth bounds (the
 * policy's, or the config default for a disk without one). `validate` refuses a policy whose
 * retention can keep more, so a chain beyond it means something else adds layers: retention
 * refused or blocked, runs failing, pinned or imported snapshots piling up. Then:
 *
 *   WARNING   depth > maxChainDepth
 *   CRITICAL  depth > 2 × maxChainDepth (at the default 32 that is past 64 layers, where reads
 *             lose about 85 % of their IOPS: DESIGN §7)
 *
 * There is no warning below the maximum: a policy may legitimately sit at exactly its maximum
 * every day, and a warning that never clears teaches people to ignore the check.
 */
export function depthStatus(depth: number, max: number): HealthStatus {
  if (depth > DEPTH_CRIT_FACTOR * max) return 'CRITICAL';
  if (depth > max) return 'WARNING';
  return 'OK';
}

export function diskResults(
  at: { storage: string; group?: string; disk: string },
  observed: ObservedDisk | undefined,
  view: DiskView,
  maxDepth: number,
  busy: string | undefined,
  ctx: OpContext,
): CheckResult[] {
  if (!chainExists(view)) {
    return [
      {
        check: 'chain',
        status: 'WARNING',
        message: 'declared but not created yet; "lvchain apply" creates it',
        ...at,
        values: { exists: false, drift: false, verified: false, layers: 0 },
      },
    ];
  }
  const layers = Object.keys(view.state.layers).length;
  const problems = view.problems.map((p) => `${p.code}: ${oneLine(p.message)}`);
  const unverified = unverifiedReason(observed);
  const chainValues = {
    exists: true,
    layers,
    verified: view.verified,
    drift: problems.length > 0,
    problems,
    in_use: view.inUse,
  };
  const chain: CheckResult =
    problems.length > 0
      ? {
          check: 'chain',
          status: 'CRITICAL',
          message: `drift: ${oneLine(view.problems[0]?.message ?? '')}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}; lvchain leaves this disk alone until it is fixed`,
          ...at,
          values: chainValues,
        }
      : {
          check: 'chain',
          status: 'OK',
          message: view.verified
            ? `${layers} layer(s), headers verified`
            : `${layers} layer(s), not verified: ${unverified}`,
          ...at,
          values: chainValues,
        };

  const chainLayers = chainOf(view.state);
  const depth = chainLayers
    ? snapshotsOf(chainLayers).length
    : Object.values(view.state.layers).filter((l) => l.ref.role === 'snapshot').length;
  const depthState = depthStatus(depth, maxDepth);
  const depthResult: CheckResult = {
    check: 'depth',
    status: depthState,
    message:
      depthState === 'OK'
        ? `${depth} snapshot(s), at most ${maxDepth}`
        : `${depth} snapshots, more than ${depthState === 'CRITICAL' ? `${DEPTH_CRIT_FACTOR} × ` : ''}maxChainDepth ${maxDepth}; every layer slows reads: check retention and pinned or imported snapshots`,
    ...at,
    values: { depth, max_depth: maxDepth },
  };

  const intents = findIntents(view.state);
  const first = intents[0];
  let interrupted: CheckResult;
  if (!first) {
    interrupted = {
      check: 'interrupted',
      status: 'OK',
      message: 'no interrupted operation',
      ...at,
      values: { operations: 0 },
    };
  } else {
    const what = describeIntent(first.intent);
    // Only a chain without drift is resumed by apply; with drift the chain result is CRITICAL already.
    const resumed = problems.length === 0 ? resume(view.state, first.intent, ctx) : undefined;
    interrupted = busy
      ? {
          check: 'interrupted',
          status: 'OK',
          message: `a ${what} is in progress: ${busy}`,
          ...at,
          values: { operations: intents.length, operation: what, in_progress: true },
        }
      : resumed && !resumed.ok
        ? {
            check: 'interrupted',
            status: 'CRITICAL',
            message: `an interrupted ${what} cannot be resumed: ${oneLine(resumed.reason)}`,
            ...at,
            values: { operations: intents.length, operation: what },
          }
        : {
            check: 'interrupted',
            status: 'WARNING',
            message: `an interrupted ${what}; "lvchain apply" finishes it`,
            ...at,
            values: { operations: intents.length, operation: what },
          };
  }
  return [chain, depthResult, interrupted];
}

function unverifiedReason(disk: ObservedDisk | undefined): string {
  const inactive = (disk?.layers ?? []).filter((l) => l.lv?.active === false).length;
  return inactive > 0
    ? `${inactive} inactive LV(s), which check does not activate; the chain was read from LV names and tags`
    : 'headers were not read; the chain was read from names and metadata';
}
