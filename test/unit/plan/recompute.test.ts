import { describe, expect, it } from 'vitest';
import { sameSteps } from '../../../src/plan/recompute.js';
import { planSchema, stepSchema } from '../../../src/model/plan.js';
import type { Step } from '../../../src/model/plan.js';

describe('sameSteps', () => {
  const step: Step = {
    kind: 'set_meta',
    layer: { role: 'top' },
    meta: { disk: 'd', guest: 'g', size: 8, protect: true },
    purpose: 'finish',
    from: { disk: 'd', size: 8, incomplete: true },
  };

  it('ignores key order, as a saved plan read back through zod has schema order', () => {
    const reparsed = stepSchema.parse(JSON.parse(JSON.stringify(step)));
    const reordered = { ...step, meta: { size: 8, protect: true, guest: 'g', disk: 'd' } } as Step;
    expect(sameSteps([step], [reordered])).toBe(true);
    expect(sameSteps([step], [reparsed])).toBe(true);
    expect(planSchema).toBeDefined();
  });

  it('notices a different value, a missing step, and ignores only byte estimates', () => {
    expect(sameSteps([step], [{ ...step, meta: { ...step.meta, size: 9 } } as Step])).toBe(false);
    expect(sameSteps([step], [])).toBe(false);
    const c: Step = {
      kind: 'commit',
      layer: { role: 'top' },
      into: { role: 'snapshot', snap: 's' },
      bytes: 5,
    };
    expect(sameSteps([c], [{ ...c, bytes: 7 }])).toBe(true);
    expect(sameSteps([c], [{ ...c, into: { role: 'snapshot', snap: 't' } }])).toBe(false);
  });
});
