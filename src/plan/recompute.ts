/**
 * The one map from an operation to its steps, from a disk's current state: the planner plans
 * with it, and apply calls it again after it has re-observed a disk and compares the result
 * with the planned steps: same code, same answer, unless the disk changed since the plan.
 * `resumeFigures`: what the merge of a resumed delete copies.
 */
import type { Operation, PlannedOperation, Step } from '../model/plan.js';
import { intentOf } from '../model/intent.js';
import type { DiskState } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import type { MergeFigures } from './op-delete.js';
import { updateTopMeta } from './op-disk.js';
import { cleanupLeftovers, resume } from './ops.js';
import { qmDelete, qmRollback, qmSnapshot } from './op-proxmox.js';

export function stepsForOperation(
  op: PlannedOperation,
  state: DiskState,
  ctx: OpContext,
  fallbackSize?: number,
  resumeFigures: MergeFigures = {},
): OpResult {
  switch (op.op) {
    case 'set_protect':
      return updateTopMeta(state, ctx);
    case 'cleanup':
      return { ok: true, steps: cleanupLeftovers(state, ctx) };
    case 'create_vg':
      return { ok: true, steps: [{ kind: 'create_vg', devices: op.devices }] };
    case 'resume':
      return resume(state, op.intent, ctx, resumeFigures);
    case 'snapshot':
      if (ctx.proxmox) return qmSnapshot(state, op.snap, op.created, op.kind, ctx, ctx.proxmox);
      break;
    case 'delete':
      if (ctx.proxmox) {
        const bytes = op.merge === 'merge_commit' ? op.commit_bytes : op.stream_bytes;
        return qmDelete(state, op.snap, bytes ?? op.at_most_bytes ?? 0, ctx.proxmox);
      }
      break;
    case 'rollback':
      if (ctx.proxmox) return qmRollback(state, op.snap, ctx, ctx.proxmox);
      break;
    default:
      break;
  }
  return resume(state, intentOf(op), ctx, figuresOf(op), fallbackSize);
}

function figuresOf(op: Operation): MergeFigures {
  if (op.op !== 'delete') return {};
  return {
    ...(op.commit_bytes !== null ? { commitBytes: op.commit_bytes } : {}),
    ...(op.stream_bytes !== null ? { streamBytes: op.stream_bytes } : {}),
  };
}

/**
 * Steps compared for equality; byte figures do not count: a merge's estimate moves as guests
 * write, and a plan saved before format 2.5 has no wiped bytes.
 */
export function sameSteps(a: readonly Step[], b: readonly Step[]): boolean {
  const strip = (s: Step) => canonical('bytes' in s ? { ...s, bytes: 0 } : s);
  return a.length === b.length && a.every((s, i) => strip(s) === strip(b[i] as Step));
}

/** JSON with sorted keys: a saved plan comes back through zod with keys in schema order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([x], [y]) => x.localeCompare(y)),
        )
      : v,
  );
}
