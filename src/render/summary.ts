/**
 * The summary lines of plan and apply, one wording for text, NDJSON and Markdown. Terraform's
 * "Plan: X to add, Y to change, Z to destroy." comes first unchanged (tools parse it); merges
 * follow it, since a snapshot merged away loses no data.
 */
import type { Plan } from '../model/plan.js';
import { formatBytes } from '../base/units.js';
import { plural } from './md.js';
import { aboutDuration } from '../base/durations.js';
import { ASSUMED_BYTES_PER_SECOND } from '../model/merge-history.js';

export interface AppliedCounts {
  add: number;
  change: number;
  destroy: number;
  merge: number;
}

/** What the merges cost: bytes, and the time they should take. */
function mergeCosts(s: Plan['summary']): string[] {
  const unread = s.bytes_to_copy_at_most;
  const costs = [
    unread === undefined
      ? `${formatBytes(s.bytes_to_copy)} to copy`
      : s.bytes_to_copy === 0
        ? `up to ${formatBytes(unread)} to copy, from chains not read now`
        : `${formatBytes(s.bytes_to_copy)} to copy, and up to ${formatBytes(unread)} from chains not read now`,
  ];
  const t = s.time_estimate;
  if (t)
    costs.push(
      `${aboutDuration(t.seconds, t.at_most)}${t.assumed ? ` at an assumed ${formatBytes(ASSUMED_BYTES_PER_SECOND)}/s` : ''}`,
    );
  return costs;
}

/**
 * "3 to add, 0 to change, 0 to destroy; 2 snapshots to merge away (1.5 GiB to copy, about 2 min);
 * 8 GiB to zero", without "Plan:". Zeroing writes every byte of an LV, so it is counted apart.
 */
export function planCounts(s: Plan['summary']): string {
  const parts = [`${s.add} to add, ${s.change} to change, ${s.destroy} to destroy`];
  if (s.merge > 0) parts.push(`${plural(s.merge, 'snapshot')} to merge away (${mergeCosts(s).join(', ')})`);
  if (s.bytes_to_zero) parts.push(`${formatBytes(s.bytes_to_zero)} to zero`);
  return parts.join('; ');
}

export function planSummaryLine(s: Plan['summary']): string {
  return `Plan: ${planCounts(s)}.`;
}

export function appliedLine(c: AppliedCounts): string {
  const base = `Resources: ${c.add} added, ${c.change} changed, ${c.destroy} destroyed`;
  return c.merge === 0 ? `${base}.` : `${base}; ${plural(c.merge, 'snapshot')} merged away.`;
}
