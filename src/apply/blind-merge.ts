/**
 * A merge planned from an inactive chain (as a Proxmox node leaves chains between runs): the plan
 * could not read what it copies. Apply reads it once the chain is active, so the steps carry
 * the true bytes, and so does the storage's record of merge times.
 */
import type { PlannedOperation, ResourceChange } from '../model/plan.js';
import { chooseMerge } from '../plan/merge.js';
import type { OpContext } from '../plan/op-steps.js';
import type { DiskState } from '../plan/state.js';

export function plannedBlind(change: ResourceChange): boolean {
  const op = change.operation;
  return op.op === 'delete' && (op.commit_bytes === null || op.stream_bytes === null);
}

/** A blind merge with the figures its chain gives now; the planned direction stands. */
export function withFigures(
  op: ResourceChange['operation'],
  state: DiskState,
  ctx: OpContext,
): PlannedOperation {
  if (op.op !== 'delete') return op as PlannedOperation;
  const direction = op.merge === 'merge_commit' ? 'commit' : 'stream';
  const now = chooseMerge(state, op.snap, direction, ctx.sizing, ctx.live);
  return { ...op, commit_bytes: now.commitBytes, stream_bytes: now.streamBytes };
}
