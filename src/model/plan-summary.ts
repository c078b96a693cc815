/** The counts a plan's summary line shows, Terraform-style, and the bytes its merges copy. */
import type { Plan, ResourceChange } from './plan.js';
import { copiedBytes, zeroedBytes } from './step-kinds.js';

/** A snapshot merged away (or the rest of an interrupted merge): its data is kept, nothing is destroyed. */
export function mergesAway(c: ResourceChange): boolean {
  return c.operation.op === 'delete' || (c.operation.op === 'resume' && c.operation.intent.op === 'delete');
}

/** What a change adds, changes, destroys and merges away: a rollback's discarded snapshots are destroyed. */
export function countChange(
  c: ResourceChange,
  into: { add: number; change: number; destroy: number; merge: number },
): void {
  const a = c.change.actions;
  if (mergesAway(c)) into.merge++;
  else {
    if (a.includes('create')) into.add++;
    if (a.includes('update')) into.change++;
    if (a.includes('delete')) into.destroy++;
  }
  if (c.operation.op === 'rollback') into.destroy += c.operation.discard.length;
}

export function summarize(changes: readonly ResourceChange[]): Plan['summary'] {
  const out: Plan['summary'] = {
    add: 0,
    change: 0,
    destroy: 0,
    merge: 0,
    bytes_to_copy: 0,
    bytes_to_zero: 0,
  };
  // Storages are applied side by side, the changes of one in turn.
  const seconds = new Map<string, number>();
  let assumed = false;
  let atMost = 0;
  let timeAtMost = false;
  for (const c of changes) {
    countChange(c, out);
    for (const { step } of c.x_steps) {
      out.bytes_to_copy += copiedBytes(step);
      out.bytes_to_zero = (out.bytes_to_zero ?? 0) + zeroedBytes(step);
    }
    if (c.operation.op === 'delete') atMost += c.operation.at_most_bytes ?? 0;
    if (c.x_estimate) {
      seconds.set(c.storage, (seconds.get(c.storage) ?? 0) + c.x_estimate.seconds);
      assumed ||= c.x_estimate.basis === 'assumed';
      timeAtMost ||= c.x_estimate.at_most === true;
    }
  }
  if (atMost > 0) out.bytes_to_copy_at_most = atMost;
  if (seconds.size > 0)
    out.time_estimate = {
      seconds: Math.round(Math.max(...seconds.values()) * 10) / 10,
      assumed,
      ...(timeAtMost ? { at_most: true } : {}),
    };
  return out;
}
