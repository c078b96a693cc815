/** What the live engine does today; the rest waits until the disk's VM is stopped. */
import type { PlannedOperation } from '../model/plan.js';
import { snapRef, sameRef } from '../model/layer.js';
import { streamsIntoSubclusters } from '../model/qemu.js';
import type { OpContext } from './op-steps.js';
import type { DiskState } from './state.js';

/** Why an operation waits while the disk's VM runs; undefined for what the live engine does. */
export function notLiveYet(op: PlannedOperation): string | undefined {
  switch (op.op) {
    case 'snapshot':
    case 'set_protect':
    case 'grow':
      return undefined;
    case 'delete':
      return op.merge === 'merge_stream' ? undefined : 'a live commit is not built yet; a running VM streams';
    case 'resume':
      if (
        op.intent.op === 'snapshot' ||
        op.intent.op === 'grow' ||
        (op.intent.op === 'delete' && op.intent.direction === 'stream')
      )
        return undefined;
      return `resuming a ${op.intent.op === 'delete' ? `${op.intent.direction} ` : ''}${op.intent.op} of a running VM is not built yet`;
    case 'rollback':
      return 'a running VM is never rolled back: lvchain never stops a VM; shut it down (qm shutdown <vmid>, virsh shutdown <name>) and plan again';
    default:
      return `a live ${op.op} is not built yet; it runs once the VM is stopped`;
  }
}

/**
 * Why this operation waits while the disk's VM runs, on this disk and this QEMU; undefined
 * when the live engine does it.
 */
export function liveBlocker(
  op: PlannedOperation,
  state: DiskState,
  live: NonNullable<OpContext['live']>,
): string | undefined {
  const not = notLiveYet(op);
  if (not !== undefined) return not;
  const snap =
    op.op === 'delete'
      ? op.snap
      : op.op === 'resume' && op.intent.op === 'delete'
        ? op.intent.snap
        : undefined;
  if (snap === undefined || streamsIntoSubclusters(live.qemu)) return undefined;
  const child = Object.values(state.layers).find((l) => l.backing && sameRef(l.backing, snapRef(snap)));
  if (!child?.extendedL2) return undefined;
  return `QEMU ${live.qemu} would crash streaming into an image with subclusters (extended_l2; fixed in QEMU 8.1), so the merge waits until the VM is stopped or runs on QEMU 8.1 or later`;
}
