/**
 * Disks of a Proxmox VE VM (`vm: { proxmox: <vmid> }`) change only through Proxmox, so its
 * config, GUI and `qm listsnapshot` stay true (DESIGN §13): snapshots are taken, deleted and
 * rolled back by its qm (plan/op-proxmox.ts). Any other change to such a disk (create, grow,
 * destroy, the resume of an operation lvchain began itself) is Proxmox's to make: a plan that
 * would make one is refused rather than acting beside Proxmox.
 */
import { LvchainError } from '../base/errors.js';
import type { Desired } from '../model/desired.js';
import type { Plan, ResourceChange } from '../model/plan.js';
import type { EngineVerdict, ObservedDisk, ObservedStorage } from '../model/observed.js';
import { isoSeconds } from '../base/instants.js';
import type { OpContext } from './op-steps.js';

/** Through Proxmox: its qm does the work and lvchain writes only its metadata. */
function throughProxmox(c: ResourceChange): boolean {
  const steps = c.x_steps.map((s) => s.step);
  return steps.some((s) => s.kind === 'qm') && steps.every((s) => s.kind === 'qm' || s.kind === 'set_meta');
}

export function proxmoxRefusal(
  desired: Desired,
  plan: Pick<Plan, 'resource_changes'>,
): LvchainError | undefined {
  // Re-deriving lvchain's own tags after Proxmox changed the chain leaves Proxmox's view as it is.
  const refused = plan.resource_changes.filter(
    (c) =>
      desired.disks[c.disk]?.proxmoxVm !== undefined &&
      c.operation.op !== 'rederive' &&
      !throughProxmox(c) &&
      c.change.actions.some((a) => a !== 'no-op'),
  );
  if (refused.length === 0) return undefined;
  const vmids = [...new Set(refused.map((c) => desired.disks[c.disk]?.proxmoxVm))].join(', ');
  return new LvchainError(
    'plan_refused',
    `the plan would change disks of Proxmox VE VM ${vmids} itself (${refused.map((c) => `${c.address}: ${c.operation.op}`).join(', ')}); lvchain takes, deletes and rolls back a Proxmox VM's snapshots through Proxmox's qm, and leaves everything else to Proxmox`,
    {
      details: { addresses: refused.map((c) => c.address) },
      hints: [
        'Create, resize and remove the disks of a Proxmox VM with Proxmox (qm set, qm disk resize, qm destroy).',
        'Or leave the guest out of this run with --target, or remove vm.proxmox if Proxmox does not manage these disks.',
      ],
    },
  );
}

/** What the planner needs of a Proxmox verdict; undefined for a disk lvchain changes itself. */
export function proxmoxContext(verdict: EngineVerdict | undefined): OpContext['proxmox'] {
  return verdict?.kind === 'engine' && verdict.engine === 'proxmox'
    ? { vmid: verdict.vmid, node: verdict.node }
    : undefined;
}

/** Why a Proxmox VM's disk waits: its config is locked. */
export function proxmoxLockText(verdict: EngineVerdict | undefined): string | undefined {
  if (verdict?.kind !== 'engine' || verdict.engine !== 'proxmox' || verdict.lock === undefined)
    return undefined;
  return `VM ${verdict.vmid} is locked by Proxmox (lock: ${verdict.lock}): an operation of Proxmox's on ${verdict.node} is running, or failed and waits for an admin ("qm unlock ${verdict.vmid}" once it is sorted out)`;
}

/**
 * When Proxmox took each snapshot of the disk, by name, from the config of the VM that lists it
 * (the declared one, or the only one): the truth for a snapshot lvchain has no record of.
 */
export function snaptimesOf(disk: ObservedDisk, vmid: number | undefined): Record<string, string> {
  const vms = disk.proxmoxVms ?? [];
  const vm = vmid !== undefined ? vms.find((v) => v.vmid === vmid) : vms.length === 1 ? vms[0] : undefined;
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(vm?.snapshots ?? {}))
    if (f.snaptime !== undefined) out[name] = isoSeconds(f.snaptime * 1000);
  return out;
}

/** A Proxmox snapshot's saved RAM state volume, and its size when it is an LV of this storage's VG. */
export interface SavedState {
  /** `storage:volname`, as the VM config writes it. */
  volume: string;
  /** The LV's size; absent when the volume is on another storage, or not found. */
  bytes?: number;
}

/**
 * The RAM state (`vmstate`) saved with a Proxmox snapshot, which `qm delsnapshot` frees with
 * it: on one of this VG's storage IDs, its LV is one of the VG's foreign LVs (`vm-<vmid>-state-<snap>`).
 */
export function savedStateOf(
  observed: ObservedStorage,
  disk: string,
  vmid: number,
  snap: string,
): SavedState | undefined {
  const vm = observed.disks[disk]?.proxmoxVms?.find((v) => v.vmid === vmid);
  const volume = vm?.snapshots[snap]?.vmstate;
  if (volume === undefined) return undefined;
  const colon = volume.indexOf(':');
  const [sid, volname] = [volume.slice(0, colon), volume.slice(colon + 1)];
  const ours = observed.kind === 'lvm' && (observed.proxmox?.storageIds ?? []).includes(sid);
  const lv = ours ? observed.foreign.find((f) => f.name === volname) : undefined;
  return lv ? { volume, bytes: lv.bytes } : { volume };
}
