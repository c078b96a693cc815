/**
 * The steps an operation needs from a disk's current state. Apply calls this after it has
 * re-observed a disk, and compares the result with the planned steps: same code, same
 * answer, unless the disk changed since the plan.
 */
import type { Operation, Step } from '../model/plan.js';
import type { DiskState } from './state.js';
import type { OpContext, OpResult } from './ops.js';
import {
  cleanupLeftovers,
  createDisk,
  deleteSnapshot,
  destroyDisk,
  growDisk,
  resume,
  rollback,
  takeSnapshot,
  updateTopMeta,
} from './ops.js';

/** An adoption is derived from the layers' headers, not from the chain's state (adopt.ts). */
export function stepsForOperation(
  op: Exclude<Operation, { op: 'adopt' }>,
  state: DiskState,
  ctx: OpContext,
  fallbackSize?: number,
): OpResult {
  switch (op.op) {
    case 'create':
      return createDisk(state, op.size, ctx);
    case 'grow':
      return growDisk(state, op.to, ctx);
    case 'set_protect':
      return updateTopMeta(state, ctx);
    case 'snapshot':
      return takeSnapshot(state, op.snap, op.created, op.kind, ctx, fallbackSize);
    case 'delete': {
      const figures = {
        ...(op.commit_bytes !== null ? { commitBytes: op.commit_bytes } : {}),
        ...(op.stream_bytes !== null ? { streamBytes: op.stream_bytes } : {}),
      };
      return deleteSnapshot(state, op.snap, op.merge === 'merge_commit' ? 'commit' : 'stream', figures, ctx);
    }
    case 'rollback':
      return rollback(state, op.snap, ctx, fallbackSize);
    case 'destroy':
      return destroyDisk(state, ctx);
    case 'resume':
      return resume(state, op.intent, ctx);
    case 'cleanup':
      return { ok: true, steps: cleanupLeftovers(state, ctx) };
    case 'create_vg':
      return { ok: true, steps: [{ kind: 'create_vg', devices: op.devices }] };
  }
}

/** Steps compared for equality; byte estimates may move as guests write and do not count. */
export function sameSteps(a: readonly Step[], b: readonly Step[]): boolean {
  const strip = (s: Step) => canonical(s.kind === 'commit' || s.kind === 'stream' ? { ...s, bytes: 0 } : s);
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
