import type { GlobalOptions, Io } from './io.js';
import { openSession } from './session.js';
import { fullPlanOptions, makePlan, type FullPlanChoices } from './make-plan.js';
import { printer } from './printer.js';
import { writePlanFile } from './planfile.js';
import { writePlanReports } from './reports.js';
import type { Observed } from '../model/observed.js';

export interface PlanCommandOptions extends FullPlanChoices {
  out?: string;
  json: boolean;
  detailedExitcode: boolean;
  /** Write the PR comment Markdown here. */
  markdown?: string;
  /** Write GitLab's Terraform report here. */
  gitlabReport?: string;
}

export async function planCommand(g: GlobalOptions, o: PlanCommandOptions, io: Io): Promise<number> {
  const session = await openSession(g, io);
  try {
    const { plan, observed } = await makePlan(session, fullPlanOptions(o, io.clock()));
    if (!o.json) for (const line of proxmoxNotes(observed)) io.out(line);
    const p = printer(io, o.json);
    p.plan(plan);
    await writePlanReports(plan, { ...o, target: g.config }, io);
    if (o.out !== undefined) {
      await writePlanFile(o.out, plan);
      if (!o.json) {
        io.out('');
        io.out(`Saved the plan to: ${o.out}`);
        if (!io.automation)
          io.out(
            `\nTo perform exactly these actions, run the following command to apply:\n    lvchain apply "${o.out}"`,
          );
      }
    } else if (!o.json && !io.automation && plan.resource_changes.length > 0) {
      io.out(
        io.style.dim(
          '\nNote: You didn\'t use the --out option to save this plan, so lvchain can\'t guarantee to take exactly these actions if you run "lvchain apply" now.',
        ),
      );
    }
    if (plan.errored) return 1;
    if (o.detailedExitcode && (plan.resource_changes.length > 0 || plan.resource_drift.length > 0)) return 2;
    return 0;
  } finally {
    await session.close();
  }
}

/** Once per VG on a Proxmox VE node: which storage locks its changes will take (DESIGN §13). */
function proxmoxNotes(observed: Observed): string[] {
  return Object.values(observed.storages).flatMap((s) => {
    if (s.kind !== 'lvm' || !s.proxmox) return [];
    const { root, detected, pmxcfs, storageIds } = s.proxmox;
    const where = `${s.name} is on a Proxmox VE node (${root}, ${detected ? 'detected' : 'declared'}${pmxcfs ? '' : ', a plain directory, not pmxcfs'})`;
    return [
      storageIds.length > 0
        ? `${where}: its LVM changes take the storage locks of ${storageIds.join(', ')}.`
        : `${where}, but no storage in storage.cfg uses it: its LVM changes take no Proxmox lock.`,
    ];
  });
}
