/**
 * Intent records (DESIGN §6): written before an operation changes anything, cleared as its
 * last step. They live in LV tags or the directory sidecar, so their text form is limited to
 * LVM's tag characters `A-Za-z0-9_+.-/=!:&#`.
 */
import { SNAPSHOT_NAME } from '../base/names.js';
import type { z } from 'zod';
import type { Operation, intentSchema } from './plan.js';
import { ISO_INSTANT as ISO } from '../base/instants.js';

export type SnapshotKind = 'auto' | 'pinned';
export type MergeDirection = 'commit' | 'stream';

/**
 * The operations a plan changes layers with share one vocabulary: an intent is the part of an
 * operation that is recorded on the disk while it runs, and `intentOf` projects one onto the
 * other. Plan changes add what only the plan needs (merge figures, the sizes grown from).
 */
export type Intent = z.infer<typeof intentSchema>;

/** The operations that record an intent while they run. */
export type IntentOperation = Extract<Operation, { op: Intent['op'] }>;

export type IntentOp = Intent['op'];

export function encodeIntent(intent: Intent): string {
  switch (intent.op) {
    case 'create':
    case 'grow':
      return `${intent.op}/${intent.size}`;
    case 'snapshot':
      return `snapshot/${intent.snap}/${intent.created}/${intent.kind}`;
    case 'delete':
      return `delete/${intent.snap}/${intent.direction}`;
    case 'rollback':
      return `rollback/${intent.snap}`;
    case 'destroy':
      return 'destroy';
  }
}

/** Parse an encoded intent; undefined when the text is not one lvchain wrote. */
export function decodeIntent(text: string): Intent | undefined {
  const [op, a, b, c, ...rest] = text.split('/');
  if (rest.length > 0) return undefined;
  switch (op) {
    case 'create':
    case 'grow': {
      const size = Number(a);
      return a !== undefined && /^\d+$/.test(a) && b === undefined ? { op, size } : undefined;
    }
    case 'snapshot':
      return a && SNAPSHOT_NAME.test(a) && b && ISO.test(b) && (c === 'auto' || c === 'pinned')
        ? { op, snap: a, created: b, kind: c }
        : undefined;
    case 'delete':
      return a && SNAPSHOT_NAME.test(a) && (b === 'commit' || b === 'stream') && c === undefined
        ? { op, snap: a, direction: b }
        : undefined;
    case 'rollback':
      return a && SNAPSHOT_NAME.test(a) && b === undefined ? { op, snap: a } : undefined;
    case 'destroy':
      return a === undefined ? { op } : undefined;
    default:
      return undefined;
  }
}

export function describeIntent(intent: Intent): string {
  switch (intent.op) {
    case 'create':
      return 'create disk';
    case 'grow':
      return `grow disk to ${intent.size} bytes`;
    case 'snapshot':
      return `snapshot ${intent.snap}`;
    case 'delete':
      return `delete snapshot ${intent.snap} (${intent.direction})`;
    case 'rollback':
      return `roll back to ${intent.snap}`;
    case 'destroy':
      return 'destroy disk';
  }
}

export function intentOf(op: IntentOperation): Intent {
  switch (op.op) {
    case 'create':
      return { op: 'create', size: op.size };
    case 'grow':
      return { op: 'grow', size: op.to };
    case 'snapshot':
      return { op: 'snapshot', snap: op.snap, created: op.created, kind: op.kind };
    case 'delete':
      return { op: 'delete', snap: op.snap, direction: op.merge === 'merge_commit' ? 'commit' : 'stream' };
    case 'rollback':
      return { op: 'rollback', snap: op.snap };
    case 'destroy':
      return { op: 'destroy' };
  }
}
