/** What the live engine does today; the rest waits until the disk's VM is stopped. */
import type { PlannedOperation } from '../model/plan.js';
import type { MergeDirection } from '../model/intent.js';
import type { EngineVerdict } from '../model/observed.js';
import { snapRef, sameRef } from '../model/layer.js';
import { streamsIntoSubclusters } from '../model/qemu.js';
import type { OpContext } from './op-steps.js';
import type { DiskState } from './state.js';

/** What the planner needs of a live verdict; undefined for a disk the offline engine changes. */
export function liveContext(verdict: EngineVerdict | undefined): OpContext['live'] {
  if (verdict?.kind !== 'engine' || verdict.engine !== 'qmp') return undefined;
  return { topHeld: verdict.topHeld, qemu: verdict.qemu, pauses: verdict.pauses };
}

/** Why an operation waits while the disk's VM runs; undefined for what the live engine does. */
export function notLiveYet(op: PlannedOperation): string | undefined {
  switch (op.op) {
    case 'snapshot':
    case 'set_protect':
    case 'grow':
      return undefined;
    case 'delete':
      return undefined;
    case 'resume':
      if (op.intent.op === 'snapshot' || op.intent.op === 'grow' || op.intent.op === 'delete')
        return undefined;
      return `resuming a ${op.intent.op} of a running VM is not built yet`;
    case 'rollback':
      return 'a running VM is never rolled back: lvchain never stops a VM; shut it down (qm shutdown <vmid>, virsh shutdown <name>) and plan again';
    default:
      return `a live ${op.op} is not built yet; it runs once the VM is stopped`;
  }
}

export type LiveContext = NonNullable<OpContext['live']>;

/**
 * Why the live engine cannot merge snapshot `snap` this way on this QEMU; undefined when it can.
 * The chooser avoids a blocked direction; a forced one waits for the VM to stop.
 */
export function liveMergeBlocker(
  state: DiskState,
  snap: string,
  direction: MergeDirection,
  live: LiveContext,
): string | undefined {
  const child = Object.values(state.layers).find(
    (l) => l.ref.role !== 'trash' && l.backing && sameRef(l.backing, snapRef(snap)),
  );
  if (direction === 'commit')
    return !live.pauses && child?.ref.role === 'top'
      ? 'its QEMU cannot pause the guest (no "stop": a storage daemon?), which a commit of the top needs to pivot safely; stream instead (--merge-direction stream)'
      : undefined;
  if (streamsIntoSubclusters(live.qemu) || !child?.extendedL2) return undefined;
  return `QEMU ${live.qemu} would crash streaming into an image with subclusters (extended_l2; fixed in QEMU 8.1), so the merge waits until the VM is stopped or runs on QEMU 8.1 or later`;
}

/**
 * Why this operation waits while the disk's VM runs, on this disk and this QEMU; undefined
 * when the live engine does it.
 */
export function liveBlocker(op: PlannedOperation, state: DiskState, live: LiveContext): string | undefined {
  const not = notLiveYet(op);
  if (not !== undefined) return not;
  if (op.op === 'delete')
    return liveMergeBlocker(state, op.snap, op.merge === 'merge_commit' ? 'commit' : 'stream', live);
  if (op.op === 'resume' && op.intent.op === 'delete')
    return liveMergeBlocker(state, op.intent.snap, op.intent.direction, live);
  return undefined;
}
