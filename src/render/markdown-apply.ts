/** The short Markdown job summary of an apply, with Terraform's wording. */
import type { Plan } from '../model/plan.js';
import type { ApplyOutcome } from '../model/events.js';
import { formatBytes } from '../base/units.js';
import { mdCode, mdText } from './md.js';
import { appliedLine, type AppliedCounts } from './summary.js';

export function renderApplyMarkdown(
  plan: Plan,
  outcome: ApplyOutcome,
  counts: AppliedCounts,
  opts: { target: string },
): string {
  const failed = outcome.failed.length > 0 || outcome.interrupted;
  const verdict = failed ? (outcome.interrupted ? 'Apply interrupted.' : 'Apply failed.') : 'Apply complete!';
  const line = appliedLine(counts);
  const out = [
    `### ${failed ? ':x:' : ':white_check_mark:'} lvchain apply for ${mdCode(opts.target)}`,
    '',
    `**${verdict} ${line}**`,
  ];
  if (!failed && plan.summary.bytes_to_copy > 0)
    out.push('', `Merges copied up to ${formatBytes(plan.summary.bytes_to_copy)}.`);
  if (outcome.failed.length > 0) {
    out.push('', '#### Failed');
    for (const f of outcome.failed) out.push(`- ${mdCode(f.address)}: ${mdText(f.message)}`);
  }
  if (outcome.skipped.length > 0) {
    out.push('', '#### Skipped');
    for (const s of outcome.skipped) out.push(`- ${mdCode(s.address)}: ${mdText(s.reason)}`);
  }
  out.push('', `<sub>${mdText(`lvchain ${plan.lvchain_version} · plan ${plan.plan_id}`)}</sub>`);
  return `${out.join('\n')}\n`;
}
