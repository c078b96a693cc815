/** The approval prompt of the commands that change storage or locks. */
import type { Plan } from '../model/plan.js';
import { LvchainError } from '../base/errors.js';
import type { Io } from './io.js';

/** What one command asks, and the flag that answers for a run without a terminal. */
export interface Approval {
  command: 'apply' | 'rollback' | 'import' | 'force-unlock';
  flag: '--auto-approve' | '--force';
  question: string;
  /** Another way to proceed without a prompt, if the command has one. */
  otherwise?: string;
}

export const APPROVAL = {
  apply: {
    command: 'apply',
    flag: '--auto-approve',
    question: 'Do you want to perform these actions?',
    otherwise: 'apply a saved plan',
  },
  rollback: {
    command: 'rollback',
    flag: '--auto-approve',
    question: 'Do you want to perform these actions?',
    otherwise: 'use --plan-only to see the plan alone',
  },
  import: { command: 'import', flag: '--auto-approve', question: 'Do you want to adopt this chain?' },
  forceUnlock: { command: 'force-unlock', flag: '--force', question: 'Do you want to release this lock?' },
} as const satisfies Record<string, Approval>;

/** Interactive approval: only "yes" proceeds (Terraform's rule). */
export async function confirm(
  io: Io,
  o: { autoApprove: boolean; json: boolean },
  destroys: boolean,
  approval: Approval,
): Promise<boolean> {
  if (o.autoApprove) return true;
  if (!io.interactive || o.json) {
    const why = o.json ? '--json is set' : 'stdin is not a terminal';
    throw new LvchainError(
      'usage',
      `${approval.command} needs approval, and ${why}: pass ${approval.flag}${approval.otherwise ? `, or ${approval.otherwise}` : ''}`,
    );
  }
  io.out('');
  io.out(io.style.bold(approval.question));
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
