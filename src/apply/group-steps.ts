/**
 * The steps a guest's group shares: every disk's intent first, then one transaction that switches
 * a running VM's disks together.
 */
import type { ResourceChange, Step } from '../model/plan.js';
import type { Realiser } from './realiser.js';
import type { ApplyContext } from './apply.js';

export interface Prepared {
  change: ResourceChange;
  steps: Step[];
}

/** One transaction for the switches of a guest's disks, reported as each disk's step. */
export async function runSwitch(
  live: readonly Prepared[],
  switchAt: (p: Prepared) => number,
  backend: Realiser,
  ctx: ApplyContext,
): Promise<void> {
  const t0 = performance.now();
  const entries = live.map((p) => ({
    disk: p.change.disk,
    step: p.steps[switchAt(p)] as Extract<Step, { kind: 'switch' }>,
  }));
  for (const [i, p] of live.entries())
    ctx.onEvent({
      type: 'step_start',
      address: p.change.address,
      index: switchAt(p),
      count: p.steps.length,
      kind: 'switch',
      description: backend.describe(p.change.disk, entries[i]?.step as Step).description,
    });
  await backend.switchGroup(entries, (message) =>
    ctx.onEvent({ type: 'apply_warning', address: live[0]?.change.address ?? '', message }),
  );
  for (const p of live)
    ctx.onEvent({
      type: 'step_complete',
      address: p.change.address,
      index: switchAt(p),
      kind: 'switch',
      elapsed_ms: Math.round(performance.now() - t0),
    });
}

export function leadingIntentSteps(steps: readonly Step[]): number {
  let n = 0;
  while (
    n < steps.length &&
    steps[n]?.kind === 'set_meta' &&
    (steps[n] as { purpose: string }).purpose === 'record_intent'
  )
    n++;
  return n;
}
