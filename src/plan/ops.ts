/**
 * The crash-safe operations of DESIGN §6. Each one computes the steps that remain from the
 * disk's current state: from scratch when nothing is recorded, or from wherever an
 * interrupted run stopped. Planning and resuming are therefore the same code, and every
 * intermediate state is recognised from the layers, their links and their metadata alone.
 *
 * Where the intent lives is chosen so that the last step is one metadata write on one layer
 * that survives the operation:
 *   create, grow          on the top
 *   snapshot              on the old top, which becomes the snapshot layer
 *   delete (stream)       on the child, which survives
 *   delete (commit)       on the snapshot, which is renamed to the child's name
 *   rollback              on the old top and on the target snapshot; the new top carries it
 *                         while incomplete, so an old top and a finished new top never look alike
 *   destroy               on the oldest layer, which is removed last
 */
import type { Intent } from '../model/intent.js';
import { refKey } from '../model/layer.js';
import type { Step } from '../model/plan.js';
import type { DiskState } from './state.js';
import { findIntents } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import { remove } from './op-steps.js';
import { createDisk, destroyDisk, growDisk } from './op-disk.js';
import { takeSnapshot } from './op-snapshot.js';
import type { MergeFigures } from './op-delete.js';
import { deleteSnapshot } from './op-delete.js';
import { rollback } from './op-rollback.js';

/** Trash layers left after a finished commit merge: their data lives on in the merged layer. */
export function cleanupLeftovers(state: DiskState, ctx: OpContext): Step[] {
  const trash = Object.values(state.layers).filter((l) => l.ref.role === 'trash');
  if (trash.length === 0 || findIntents(state).length > 0) return [];
  return trash.sort((a, b) => refKey(a.ref).localeCompare(refKey(b.ref))).map((l) => remove(l.ref, ctx));
}

/**
 * The steps of the operation an intent names, from wherever the disk is: a new operation is
 * planned as the resume of an intent nothing has recorded yet. `figures`: what a merge copies;
 * `fallbackSize`: the virtual size to use where a layer's is unknown (header not read).
 */
export function resume(
  state: DiskState,
  intent: Intent,
  ctx: OpContext,
  figures: MergeFigures = {},
  fallbackSize?: number,
): OpResult {
  switch (intent.op) {
    case 'create':
      return createDisk(state, intent.size, ctx);
    case 'grow':
      return growDisk(state, intent.size, ctx);
    case 'snapshot':
      return takeSnapshot(state, intent.snap, intent.created, intent.kind, ctx, fallbackSize);
    case 'delete':
      return deleteSnapshot(state, intent.snap, intent.direction, figures, ctx);
    case 'rollback':
      return rollback(state, intent.snap, ctx, fallbackSize);
    case 'destroy':
      return destroyDisk(state, ctx);
  }
}
