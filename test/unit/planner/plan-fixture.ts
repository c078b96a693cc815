/**
 * Plans a captured Observed fixture (test/fixtures/observed) the way `plan` does, without a
 * host: the config goes through the real loader, the planner runs at the fixture's instant,
 * and the steps are shown as compact lines so that a test can pin a whole step list.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigText } from '../../../src/config/load.js';
import { planChanges } from '../../../src/plan/plan.js';
import type { PlanRequest } from '../../../src/plan/request.js';
import { finalizePlan } from '../../../src/plan/finalize.js';
import { encodeIntent } from '../../../src/model/intent.js';
import { refKey, type LayerRef } from '../../../src/model/layer.js';
import type { LayerMeta } from '../../../src/model/meta.js';
import type { Observed } from '../../../src/model/observed.js';
import type { Plan, ResourceChange, Step } from '../../../src/model/plan.js';
import { FIXTURE_CONFIG, FIXTURE_NOW } from '../../fixtures/observed/constants.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'observed');

export interface Fixture {
  observed: Observed;
  config: string;
}

export function fixture(state: string): Fixture {
  return {
    observed: JSON.parse(readFileSync(join(FIXTURES, `${state}.json`), 'utf8')) as Observed,
    config: readFileSync(join(FIXTURES, `${state}.yaml`), 'utf8'),
  };
}

export type Options = Partial<Omit<PlanRequest, 'desired' | 'observed'>>;

/**
 * The plan of `config` (the fixture's own unless given) against the fixture's observation. A
 * plan that asks for a read the capture did not make is a stale fixture: re-capture it.
 */
export function planFixture(
  state: string,
  options: Options = {},
  config?: string,
  /** A change lvchain itself would have made to the captured state (its own metadata). */
  edit?: (observed: Observed) => void,
): Plan {
  const fx = fixture(state);
  edit?.(fx.observed);
  const loaded = loadConfigText(config ?? fx.config, FIXTURE_CONFIG);
  const request: PlanRequest = {
    desired: loaded.desired,
    observed: fx.observed,
    now: FIXTURE_NOW,
    mode: 'full',
    allowDestroy: false,
    targets: [],
    mergeDirection: 'auto',
    ...options,
  };
  const draft = planChanges(request);
  const unread = [draft.needExtents, draft.needMeasure, draft.needHeaders, draft.needDependants].filter(
    (need) => Object.keys(need).length > 0,
  );
  if (unread.length > 0) throw new Error(`fixture ${state} lacks reads: ${JSON.stringify(unread)}`);
  return finalizePlan(
    draft,
    {
      lvchainVersion: 'test',
      planId: 'test',
      now: request.now,
      configPath: FIXTURE_CONFIG,
      configDigest: loaded.digest,
      fingerprint: { digest: 'test', storages: {} },
      mode: request.mode,
      allowDestroy: request.allowDestroy,
      targets: request.targets,
      mergeDirection: request.mergeDirection,
      allowMassDelete: request.allowMassDelete ?? false,
    },
    // Commands are the storage driver's business; these tests pin the storage operations.
    () => ({ description: '', commands: [] }),
  );
}

export function change(plan: Plan, address: string): ResourceChange {
  const c = plan.resource_changes.find((r) => r.address === address);
  if (!c)
    throw new Error(
      `no change ${address}; planned: ${plan.resource_changes.map((r) => r.address).join(', ')}`,
    );
  return c;
}

const ref = (r: LayerRef | null | undefined): string => (r ? refKey(r) : '-');
const intentOf = (meta: LayerMeta): string => (meta.intent ? ` ${encodeIntent(meta.intent)}` : '');
const incomplete = (meta: LayerMeta): string => (meta.incomplete ? ' incomplete' : '');

/** One line per step: its kind, the layers it touches and the figures that matter. */
export function stepLine(step: Step): string {
  switch (step.kind) {
    case 'set_meta':
      return `set_meta ${ref(step.layer)} ${step.purpose}${intentOf(step.meta)}${incomplete(step.meta)}`;
    case 'allocate':
      return `allocate ${ref(step.layer)} ${step.virtual_size}${incomplete(step.meta)}${intentOf(step.meta)}`;
    case 'wipe':
      return `wipe ${ref(step.layer)}`;
    case 'format':
      return `format ${ref(step.layer)} ${step.virtual_size} backing ${ref(step.backing)}`;
    case 'extend':
      return `extend ${ref(step.layer)} ${step.virtual_size}`;
    case 'resize':
      return `resize ${ref(step.layer)} ${step.virtual_size} ${step.preallocation}`;
    case 'rename':
      return `rename ${ref(step.from)} → ${ref(step.to)}`;
    case 'commit':
      return `commit ${ref(step.layer)} into ${ref(step.into)} ${step.bytes}`;
    case 'stream':
      return `stream ${ref(step.from)} into ${ref(step.layer)} onto ${ref(step.onto)} ${step.bytes}`;
    case 'remove':
      return `remove ${ref(step.layer)}${step.wipe ? ' wipe' : ''}`;
    case 'create_vg':
      return `create_vg ${step.devices.join(' ')}`;
    case 'switch':
      return `switch ${ref(step.layer)} on ${ref(step.backing)}`;
    case 'reattach':
      return `reattach ${ref(step.was)} → ${ref(step.layer)}`;
    case 'qm':
      return `qm ${step.qm.action} ${step.vmid} ${step.qm.snap} on ${step.node}${step.qm.action === 'delsnapshot' ? ` ${step.qm.direction}` : ''}`;
  }
}

export function stepLines(plan: Plan, address: string): string[] {
  return change(plan, address).x_steps.map((s) => stepLine(s.step));
}

/** Every change as `address: operation`, in plan order. */
export function changeLines(plan: Plan): string[] {
  return plan.resource_changes.map((c) => `${c.address}: ${c.operation.op}`);
}
