/** Interrupted work comes first on every disk: finish the recorded operation, then clean up. */
import type { Intent } from '../model/intent.js';
import { describeIntent } from '../model/intent.js';
import { snapRef } from '../model/layer.js';
import type { LayerMeta } from '../model/meta.js';
import type { Operation } from '../model/plan.js';
import type { DiskState } from './state.js';
import { findIntents, layerAt } from './state.js';
import type { MergeFigures } from './op-delete.js';
import { chooseMerge } from './merge.js';
import { addressOf, draftChange } from './change.js';
import { stepsForOperation } from './recompute.js';
import type { StoragePlanner } from './storage-planner.js';

/** Finish an interrupted operation, then clean leftovers. Returns the state after both. */
export function planResume(
  sp: StoragePlanner,
  state: DiskState,
  topMeta: LayerMeta,
  policy: string | undefined,
): DiskState | undefined {
  const disk = state.disk;
  const first = findIntents(state)[0];
  let cur: DiskState | undefined = state;
  if (first) {
    const ctx = sp.ctx(disk, topMeta, policy);
    const intent = first.intent;
    const op: Operation = { op: 'resume', intent };
    const result = stepsForOperation(op, state, ctx, undefined, resumeFigures(sp, state, intent));
    if (!result.ok) {
      const address = addressOf(op, disk);
      sp.drift.push({
        address,
        storage: sp.storage.name,
        disk,
        problems: [
          {
            code: 'unresumable',
            message: `an interrupted ${describeIntent(intent)} cannot be resumed: ${result.reason}`,
          },
        ],
      });
      sp.diagnostics.push({
        severity: 'warning',
        summary: `${address} is left alone: the interrupted ${describeIntent(intent)} cannot be resumed: ${result.reason}`,
        address,
      });
      return undefined;
    }
    const facts = { topMeta: ctx.topMeta, ...(policy !== undefined ? { policy } : {}) };
    cur = sp.add(state, draftChange(op, disk, facts), result, ctx);
  }
  if (!cur) return undefined;
  const ctx = sp.ctx(disk, topMeta, policy);
  const cleanup: Operation = { op: 'cleanup' };
  const leftovers = stepsForOperation(cleanup, cur, ctx);
  if (leftovers.ok && leftovers.steps.length > 0)
    cur = sp.add(cur, draftChange(cleanup, disk, { topMeta: ctx.topMeta }), leftovers, ctx);
  return cur;
}

/**
 * A merge run again copies its whole amount again (a commit re-copies what C holds, a stream
 * what C still sees through S), so a resume shows the figure of its direction, read as for a
 * new delete.
 */
function resumeFigures(sp: StoragePlanner, state: DiskState, intent: Intent): MergeFigures {
  if (intent.op !== 'delete' || !layerAt(state, snapRef(intent.snap))) return {};
  const choice = chooseMerge(state, intent.snap, intent.direction, sp.sizing, sp.liveOf(state.disk));
  if (choice.commitBytes === null || choice.streamBytes === null) sp.needExtentsFor(state, intent.snap);
  return {
    ...(choice.commitBytes !== null ? { commitBytes: choice.commitBytes } : {}),
    ...(choice.streamBytes !== null ? { streamBytes: choice.streamBytes } : {}),
  };
}
