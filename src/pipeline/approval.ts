/** The approval prompt of the commands that change storage. */
import type { Plan } from '../model/plan.js';
import { LvchainError } from '../base/errors.js';
import type { Io } from './io.js';

/** Interactive approval: only "yes" proceeds (Terraform's rule). */
export async function confirm(
  io: Io,
  o: { autoApprove: boolean; json: boolean },
  destroys: boolean,
): Promise<boolean> {
  if (o.autoApprove) return true;
  if (!io.interactive || o.json) {
    throw new LvchainError(
      'usage',
      'apply needs approval: stdin is not a terminal (or --json is set); pass --auto-approve, or apply a saved plan',
    );
  }
  io.out('');
  io.out(io.style.bold('Do you want to perform these actions?'));
  io.out(
    `  lvchain will perform the actions described above.${destroys ? ' Some of them destroy data; there is no undo.' : ''}`,
  );
  io.out("  Only 'yes' will be accepted to approve.");
  const answer = await io.ask('\n  Enter a value: ');
  return answer.trim() === 'yes';
}

/** Whether a plan destroys data: the approval prompt then says there is no undo. */
export function destroysData(plan: Plan): boolean {
  return plan.summary.destroy > 0 || plan.resource_changes.some((c) => c.irreversible);
}
