/**
 * What a progress report needs that its event does not carry: the change's step count, when the
 * step started, and the bytes a merge moves or a wipe zeroes (from the plan). The text and NDJSON
 * printers share it.
 */
import type { Plan } from '../model/plan.js';
import { isMergeStep, zeroedBytes } from '../model/step-kinds.js';
import type { ApplyEvent } from '../model/events.js';
import type { StepProgress } from '../render/progress.js';

type Event<T extends ApplyEvent['type']> = Extract<ApplyEvent, { type: T }>;

const key = (e: { address: string; index: number }) => `${e.address}#${e.index}`;

export class StepClock {
  private readonly bytesOf = new Map<string, number>();
  private readonly steps = new Map<string, { count: number; startedMs: number; bytes?: number }>();

  constructor(private readonly clock: () => number) {}

  plan(plan: Plan): void {
    for (const c of plan.resource_changes)
      for (const [index, { step }] of c.x_steps.entries()) {
        const at = key({ address: c.address, index });
        if (isMergeStep(step)) this.bytesOf.set(at, step.bytes);
        else if (zeroedBytes(step) > 0) this.bytesOf.set(at, zeroedBytes(step));
      }
  }

  start(e: Event<'step_start'>): void {
    const bytes = this.bytesOf.get(key(e));
    this.steps.set(key(e), {
      count: e.count,
      startedMs: this.clock(),
      ...(bytes !== undefined ? { bytes } : {}),
    });
  }

  /** `address`: as it is to be shown (escaped for a terminal, or not). */
  progress(e: Event<'step_progress'>, address: string): StepProgress {
    const s = this.steps.get(key(e));
    return {
      address,
      index: e.index,
      count: s?.count ?? e.index + 1,
      fraction: e.fraction,
      elapsedMs: s ? this.clock() - s.startedMs : 0,
      ...(s?.bytes !== undefined ? { bytes: s.bytes } : {}),
    };
  }
}
