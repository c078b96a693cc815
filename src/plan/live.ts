/** What the live engine does today; the rest waits until the disk's VM is stopped. */
import type { PlannedOperation } from '../model/plan.js';

/** Why an operation waits while the disk's VM runs; undefined for what the live engine does. */ export function notLiveYet(
  op: PlannedOperation,
): string | undefined {
  switch (op.op) {
    case 'snapshot':
    case 'set_protect':
      return undefined;
    case 'resume':
      return op.intent.op === 'snapshot'
        ? undefined
        : `resuming a ${op.intent.op} of a running VM is not built yet`;
    case 'rollback':
      return 'a running VM is never rolled back: lvchain never stops a VM; shut it down (qm shutdown <vmid>, virsh shutdown <name>) and plan again';
    default:
      return `a live ${op.op} is not built yet; it runs once the VM is stopped`;
  }
}
