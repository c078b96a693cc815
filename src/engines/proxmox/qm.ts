/**
 * The Proxmox engine (DESIGN §13): for a VM that Proxmox VE manages, its own `qm` on the VM's
 * node takes, deletes and rolls back snapshots, running or not, so the VM config, the GUI and
 * `qm listsnapshot` stay true. Proxmox does the storage side its way (reference §4–§6) under
 * its own locks; lvchain then writes its metadata on the layers, as storage steps.
 */
import type { Executor } from '../../exec/executor.js';
import { CommandError } from '../../exec/executor.js';
import { displayArgv } from '../../base/quote.js';
import { LvchainError } from '../../base/errors.js';
import type { PlannedCommand, PlannedStep, Step } from '../../model/plan.js';

export type QmStep = Extract<Step, { kind: 'qm' }>;

/** The Proxmox VMs of a run's disks, and how each Proxmox node is reached. Shared by every storage of a run. */
export interface ProxmoxVms {
  /** Disk → the VMID whose config lists it (`vm: { proxmox }`). */
  readonly vmids: Readonly<Record<string, number>>;
  /** The executor that runs commands on this node: the declared host that is it. */
  reach(node: string): Executor | undefined;
  /**
   * The qm commands this run has run: one `qm snapshot` changes every disk of its VM, whichever
   * storage each is on, and the VM's other disks' changes find it done.
   */
  readonly done: Set<string>;
}

export function qmArgv(step: QmStep): string[] {
  const { qm, vmid } = step;
  return qm.action === 'snapshot'
    ? ['qm', 'snapshot', String(vmid), qm.snap, '--description', qm.description]
    : ['qm', qm.action, String(vmid), qm.snap];
}

export function describeQm(step: QmStep): Pick<PlannedStep, 'description' | 'commands'> {
  const { qm, vmid, node } = step;
  const what =
    qm.action === 'snapshot'
      ? `take snapshot ${qm.snap} of VM ${vmid}`
      : qm.action === 'rollback'
        ? `roll VM ${vmid} back to snapshot ${qm.snap}`
        : `delete snapshot ${qm.snap} of VM ${vmid} (Proxmox ${qm.direction === 'commit' ? 'commits the child into it' : 'rebases the child onto its parent'})`;
  const command: PlannedCommand = { kind: 'argv', argv: qmArgv(step) };
  return {
    description: `Proxmox VE on ${node}: ${what}, every disk of the VM, once for all its disks in this run`,
    commands: [command],
  };
}

/**
 * qm's output goes to files on the node, and back only once it ended. Proxmox's CLI copies its
 * task's output to its stdout and kills the task when that pipe breaks (RESTEnvironment's
 * tee_worker), so over ssh an lvchain killed in the middle would end Proxmox's operation half
 * done. This way the task finishes whatever happens to lvchain, and the next plan finds the
 * chain and the VM config as Proxmox left them.
 */
const OUTLIVE = [
  'o=$(mktemp) && e=$(mktemp) || exit 125',
  '"$@" >"$o" 2>"$e" </dev/null',
  'rc=$?',
  'cat "$o"',
  'cat "$e" >&2',
  'rm -f "$o" "$e"',
  'exit $rc',
].join('\n');

/** Run the step's qm on its node, once per run for the VM. */
export async function runQm(step: QmStep, exec: Executor | undefined, done: Set<string>): Promise<void> {
  const key = `${step.vmid}/${step.qm.action}/${step.qm.snap}`;
  if (done.has(key)) return;
  if (!exec)
    throw new LvchainError(
      'vm_failed',
      `VM ${step.vmid} is on Proxmox node ${step.node}, which no host in the config is (hosts.<name>.proxmox.node); nothing was done`,
    );
  // No time limit: Proxmox's delete merges a whole layer, as long as that takes.
  const r = await exec.run(['sh', '-c', OUTLIVE, 'lvchain-qm', ...qmArgv(step)], { ownConnection: true });
  if (r.failed)
    throw new LvchainError('vm_failed', new CommandError(r, displayArgv(qmArgv(step))).message, {
      details: { vmid: step.vmid, node: step.node, argv: r.argv },
      hints: [
        `Proxmox may have left VM ${step.vmid} locked ("lock:" in its config); see "qm config ${step.vmid}" on ${step.node}, finish or undo its operation there, then plan again.`,
      ],
    });
  done.add(key);
}
