/** The counts a plan's summary line shows, Terraform-style, and the bytes its merges copy. */
import type { Plan, ResourceChange } from './plan.js';

export function summarize(changes: readonly ResourceChange[]): Plan['summary'] {
  let add = 0;
  let change = 0;
  let destroy = 0;
  let bytes = 0;
  for (const c of changes) {
    const a = c.change.actions;
    if (a.includes('create')) add++;
    if (a.includes('update')) change++;
    if (a.includes('delete')) destroy++;
    if (c.operation.op === 'rollback') destroy += c.operation.discard.length;
    for (const s of c.x_steps)
      if (s.step.kind === 'commit' || s.step.kind === 'stream') bytes += s.step.bytes;
  }
  return { add, change, destroy, bytes_to_copy: bytes };
}
