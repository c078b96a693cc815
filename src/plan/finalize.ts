/**
 * Draft → Plan: attach what each step will run (from the backend's pure describer) and the
 * summary. The result is the versioned plan data that every renderer reads.
 */
import type { Fingerprint, Plan, PlannedStep, ResourceChange, Step } from '../model/plan.js';
import { PLAN_FORMAT_VERSION } from '../model/plan.js';
import { summarize } from '../model/plan-summary.js';
import { isoSeconds } from '../base/instants.js';
import type { PlanDraft } from './draft.js';
import type { PlanMode } from './request.js';
import type { DirectionOverride } from './merge.js';

export interface PlanIdentity {
  lvchainVersion: string;
  planId: string;
  now: number;
  configPath: string;
  configDigest: string;
  fingerprint: Fingerprint;
  mode: PlanMode;
  allowDestroy: boolean;
  targets: readonly string[];
  mergeDirection: DirectionOverride;
  allowMassDelete: boolean;
}

export type Describe = (
  storage: string,
  disk: string,
  step: Step,
) => Pick<PlannedStep, 'description' | 'commands'>;

export function finalizePlan(draft: PlanDraft, id: PlanIdentity, describe: Describe): Plan {
  const changes: ResourceChange[] = draft.changes.map((c) => {
    const rc: ResourceChange = {
      address: c.address,
      type: c.type,
      name: c.name,
      storage: c.storage,
      disk: c.disk,
      change: { actions: c.actions, before: c.before, after: c.after },
      action_reason: c.reason,
      irreversible: c.irreversible,
      operation: c.operation,
      expected_shape: c.expectedShape,
      x_top_meta: c.topMeta,
      x_steps: c.steps.map((step): PlannedStep => ({ step, ...describe(c.storage, c.disk, step) })),
    };
    if (c.group !== undefined) rc.group = c.group;
    if (c.reasonDetail !== undefined) rc.reason_detail = c.reasonDetail;
    if (c.policy !== undefined) rc.x_policy = c.policy;
    if (c.hooks !== undefined) rc.x_hooks = c.hooks;
    if (c.estimate !== undefined) rc.x_estimate = c.estimate;
    return rc;
  });
  return {
    format_version: PLAN_FORMAT_VERSION,
    lvchain_version: id.lvchainVersion,
    timestamp: isoSeconds(id.now),
    plan_id: id.planId,
    config_path: id.configPath,
    config_digest: id.configDigest,
    options: {
      mode: id.mode,
      allow_destroy: id.allowDestroy,
      targets: [...id.targets],
      merge_direction: id.mergeDirection,
      allow_mass_delete: id.allowMassDelete,
    },
    observed_fingerprint: id.fingerprint,
    applyable: draft.applyable,
    errored: draft.errored,
    resource_changes: changes,
    resource_drift: draft.drift,
    capacity: draft.capacity,
    diagnostics: draft.diagnostics,
    summary: summarize(changes),
  };
}
