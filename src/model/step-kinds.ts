/** What kind of work a step does: the questions progress, estimates and records ask of a step. */
import type { Step, StepKind } from './plan.js';

/** A step that copies data from one layer into another. */
export type MergeStep = Extract<Step, { kind: 'commit' | 'stream' }>;

export function isMergeKind(kind: StepKind): kind is MergeStep['kind'] {
  return kind === 'commit' || kind === 'stream';
}

export function isMergeStep(step: Step): step is MergeStep {
  return isMergeKind(step.kind);
}

/** The bytes a step zeroes: a wipe, or a removal that wipes first (figures from the simulation). */
export function zeroedBytes(step: Step): number {
  if (step.kind === 'wipe' || (step.kind === 'remove' && step.wipe)) return step.bytes ?? 0;
  return 0;
}

/** The bytes a step copies: a merge's, or Proxmox's own merge in a `qm delsnapshot`. */
export function copiedBytes(step: Step): number {
  if (isMergeStep(step)) return step.bytes;
  return step.kind === 'qm' && step.qm.action === 'delsnapshot' ? step.qm.bytes : 0;
}
