/**
 * Disks of a Proxmox VE VM (`vm: { proxmox: <vmid> }`) change only through Proxmox, so its
 * config, GUI and `qm listsnapshot` stay true (DESIGN §13). That engine does not exist yet:
 * until it does, a plan that would change such a disk is refused rather than acting beside
 * Proxmox.
 */
import { LvchainError } from '../base/errors.js';
import type { Desired } from '../model/desired.js';
import type { Plan } from '../model/plan.js';

export function proxmoxRefusal(
  desired: Desired,
  plan: Pick<Plan, 'resource_changes'>,
): LvchainError | undefined {
  // Re-deriving lvchain's own tags after Proxmox changed the chain leaves Proxmox's view as it is.
  const refused = plan.resource_changes.filter(
    (c) =>
      desired.disks[c.disk]?.proxmoxVm !== undefined &&
      c.operation.op !== 'rederive' &&
      c.change.actions.some((a) => a !== 'no-op'),
  );
  if (refused.length === 0) return undefined;
  const vmids = [...new Set(refused.map((c) => desired.disks[c.disk]?.proxmoxVm))].join(', ');
  return new LvchainError(
    'plan_refused',
    `the plan would change disks of Proxmox VE VM ${vmids} (${refused.map((c) => c.address).join(', ')}); lvchain changes a VM Proxmox manages only through Proxmox, and that engine does not exist yet`,
    {
      details: { addresses: refused.map((c) => c.address) },
      hints: [
        'Take, delete and roll back these snapshots with Proxmox (qm snapshot, qm delsnapshot, qm rollback) for now.',
        'Or leave the guest out of this run with --target, or remove vm.proxmox if Proxmox does not manage these disks.',
      ],
    },
  );
}
