/**
 * A run that has passed its checks when the storage changes under it: the plan is made now, in
 * process, and applied later by `apply`, after the test has changed the storage. Only a race
 * could do this through the CLI, which plans again under its lock.
 */
import { makePlan } from '../../src/pipeline/make-plan.js';
import { Session } from '../../src/pipeline/session.js';
import { applyPlan } from '../../src/apply/apply.js';
import type { ApplyEvent, ApplyOutcome } from '../../src/model/events.js';
import type { Plan } from '../../src/model/plan.js';

export interface InFlight {
  plan: Plan;
  /** Applies the plan made earlier to the storage as it is now; events go to `onEvent`. */
  apply(onEvent?: (e: ApplyEvent) => void): Promise<ApplyOutcome>;
}

export async function withPlanInFlight<T>(configPath: string, fn: (run: InFlight) => Promise<T>): Promise<T> {
  const session = await Session.open(configPath);
  try {
    const { plan, observed } = await makePlan(session, {
      now: Date.now(),
      mode: 'full',
      allowDestroy: false,
      targets: [],
      mergeDirection: 'auto',
    });
    return await fn({
      plan,
      apply: (onEvent = () => undefined) =>
        applyPlan(plan, {
          desired: session.desired,
          observed,
          backend: (name) => session.backend(name),
          onEvent,
        }),
    });
  } finally {
    await session.close();
  }
}
