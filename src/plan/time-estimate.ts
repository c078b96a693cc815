/**
 * How long a plan's merges should take (issue 12): each merge step's bytes at the rate its
 * storage's recorded merges ran (an assumed, slow rate until one is on record), or at the
 * storage's mergeRate where that is lower.
 */
import type { Diagnostic, Step, TimeEstimate } from '../model/plan.js';
import { isMergeStep } from '../model/step-kinds.js';
import type { ObservedStorage } from '../model/observed.js';
import { throughputOf, type Throughput } from '../model/merge-history.js';
import type { DraftChange } from './draft.js';

/** `atMostBytes`: the most a merge whose chain could not be read can copy (its step has no bytes). */
export function changeEstimate(
  steps: readonly Step[],
  t: Throughput,
  atMostBytes?: number,
): TimeEstimate | undefined {
  let seconds = 0;
  let bytes = 0;
  let limited = false;
  let atMost = false;
  for (const s of steps) {
    if (!isMergeStep(s)) continue;
    const n = s.bytes === 0 && atMostBytes !== undefined ? atMostBytes : s.bytes;
    if (n === 0) continue;
    atMost ||= n !== s.bytes;
    const rate = s.rate !== undefined && s.rate < t.bytesPerSecond ? s.rate : t.bytesPerSecond;
    limited ||= rate !== t.bytesPerSecond;
    seconds += n / rate;
    bytes += n;
  }
  if (bytes === 0) return undefined;
  return {
    seconds: Math.round(seconds * 10) / 10,
    bytes_per_second: limited ? Math.max(1, Math.round(bytes / seconds)) : t.bytesPerSecond,
    basis: limited ? 'merge_rate' : t.basis,
    merges: t.merges,
    ...(atMost ? { at_most: true } : {}),
  };
}

/** The changes with their time estimates, from each storage's merge record. */
export function withEstimates(
  changes: readonly DraftChange[],
  storages: Readonly<Record<string, ObservedStorage>>,
): DraftChange[] {
  const rates = new Map<string, Throughput>();
  const rateOf = (storage: string): Throughput => {
    let t = rates.get(storage);
    if (!t) rates.set(storage, (t = throughputOf(storages[storage]?.mergeHistory?.samples ?? [])));
    return t;
  };
  return changes.map((c) => {
    const atMost = c.operation.op === 'delete' ? c.operation.at_most_bytes : undefined;
    const estimate = changeEstimate(c.steps, rateOf(c.storage), atMost);
    return estimate ? { ...c, estimate } : c;
  });
}

/** A merge record that is not lvchain's is not used: say so, and where. */
export function historyDiagnostic(storage: string, observed: ObservedStorage): Diagnostic | undefined {
  const problem = observed.mergeHistory?.problem;
  if (problem === undefined) return undefined;
  return {
    severity: 'warning',
    code: 'merge_history_unusable',
    summary: `storage ${storage}: the record of recent merges is not used: ${problem}`,
    detail:
      'Time estimates assume a slow default rate until the next merge on this storage replaces the record.',
  };
}
