/**
 * The plan is plain data with a versioned JSON contract (DESIGN §8, STYLE 1 and 9). Its
 * wire form is snake_case, as Terraform's; the same objects are used in memory, so the JSON,
 * text and Markdown renderings can never disagree. No behaviour lives here.
 */
import { z } from 'zod';
import { diagnosticCodeSchema, driftCodeSchema } from './codes.js';
import { shapeRowsSchema } from './shape.js';
import { timeEstimateSchema } from './time-estimate.js';
import {
  bytes,
  fallbackConditionSchema,
  intentSchema,
  iso,
  kind,
  layerMetaSchema,
  plannedCommandSchema,
  plannedStepSchema,
  snapshotName,
  stepSchema,
} from './plan-steps.js';

export {
  fallbackConditionSchema,
  intentSchema,
  layerMetaSchema,
  layerRefSchema,
  plannedCommandSchema,
  plannedStepSchema,
  stepSchema,
} from './plan-steps.js';

export type { TimeEstimate } from './time-estimate.js';
// 2.0: a step's commands became a tagged union (argv, qmp, in_process) instead of argv arrays.
// 2.1: summary.merge (snapshots merged away no longer count in destroy); diagnostics' figures.
// 2.2: a live snapshot's metadata carries its consistency; a live commit of the top, its pivot record.
// 2.3: the rederive operation (action reason proxmox_changed): metadata re-derived after Proxmox
// changed a chain; a merge step's rate (the storage's mergeRate); diagnostic codes
// merge_window_closed and running_elsewhere (a disk of a Proxmox VM running on another node).
// 2.4: time estimates: a change's x_estimate and the summary's time_estimate; diagnostic codes
// merge_history_unusable and merge_direction_costlier. 2.5: a wipe's bytes. 2.6: the reattach step.
// 2.7: the Proxmox engine: the qm step, chosen_because proxmox, diagnostic code proxmox_locked.
export const PLAN_FORMAT_VERSION = '2.7';

export const actionSchema = z.enum(['create', 'update', 'delete', 'no-op']);

export const actionReasonSchema = z.enum([
  'vg_declared',
  'disk_declared',
  'size_increased',
  'protect_changed',
  'pinned_declared',
  'schedule_due',
  'pinned_removed',
  'retention_expired',
  'rollback_requested',
  'rollback_discarded',
  'destroy_requested',
  'resume_interrupted',
  'import_requested',
  'proxmox_changed',
]);

export const operationSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('create'), size: bytes }),
  z.strictObject({ op: z.literal('grow'), from: bytes, to: bytes }),
  z.strictObject({ op: z.literal('set_protect'), protect: z.boolean() }),
  z.strictObject({
    op: z.literal('snapshot'),
    snap: snapshotName,
    kind,
    created: iso,
    policy: z.string().optional(),
  }),
  z.strictObject({
    op: z.literal('delete'),
    snap: snapshotName,
    /** Terraform-vocabulary name of the merge: merge_commit or merge_stream. */
    merge: z.enum(['merge_commit', 'merge_stream']),
    commit_bytes: bytes.nullable(),
    stream_bytes: bytes.nullable(),
    /** Why this direction: cheaper, only one possible, or forced by --merge-direction. */
    chosen_because: z.enum(['cheaper', 'tie', 'forced', 'no_estimate', 'live_engine', 'proxmox']),
    /** The chosen figure could not be read: the most it can be, the merged layer's virtual size (2.5). */
    at_most_bytes: bytes.optional(),
  }),
  z.strictObject({ op: z.literal('rollback'), snap: snapshotName, discard: z.array(snapshotName) }),
  z.strictObject({ op: z.literal('destroy') }),
  z.strictObject({ op: z.literal('resume'), intent: intentSchema }),
  z.strictObject({ op: z.literal('cleanup') }),
  z.strictObject({ op: z.literal('create_vg'), devices: z.array(z.string()).min(1) }),
  /** `lvchain import`: lvchain's metadata added to a chain another tool made. */
  z.strictObject({ op: z.literal('adopt') }),
  /**
   * Metadata re-derived from layer names and links after Proxmox VE changed a chain lvchain
   * owns (DESIGN §13): `found` says what Proxmox did, `estimated` the snapshot times no record kept.
   */
  z.strictObject({
    op: z.literal('rederive'),
    found: z.array(z.string()).min(1),
    estimated: z.array(
      z.strictObject({ snap: snapshotName, at: iso, from: z.enum(['child_created', 'modified']) }),
    ),
  }),
]);

/** Commands around a snapshot, as argv on the storage's host, with the environment they get. */
export const hooksSchema = z.strictObject({
  pre: z.array(z.string()).min(1).optional(),
  post: z.array(z.string()).min(1).optional(),
  timeout_ms: z.number().int().positive(),
  env: z.record(z.string(), z.string()),
});
export type PlannedHooks = z.infer<typeof hooksSchema>;

export const resourceChangeSchema = z.strictObject({
  address: z.string(),
  type: z.enum(['lvchain_vg', 'lvchain_disk', 'lvchain_snapshot']),
  name: z.string(),
  storage: z.string(),
  disk: z.string(),
  /** Changes sharing a group (a guest's snapshot) start together: all intents first. */
  group: z.string().optional(),
  change: z.strictObject({
    actions: z.array(actionSchema).min(1),
    before: z.record(z.string(), z.unknown()).nullable(),
    after: z.record(z.string(), z.unknown()).nullable(),
  }),
  action_reason: actionReasonSchema,
  /** Human detail of the reason: the retention rule, the intent being resumed, … */
  reason_detail: z.string().optional(),
  /** Data is thrown away for good (rollback --discard-newer, destroy). */
  irreversible: z.boolean(),
  operation: operationSchema,
  /** The disk's shape this change expects to find; apply re-observes and compares. */
  expected_shape: shapeRowsSchema,
  /** Metadata a finished top carries, so apply can recompute the steps from what it finds. */
  x_top_meta: layerMetaSchema,
  x_policy: z.string().optional(),
  /** The policy's snapshot hooks, run once around the change's group (or the change alone). */
  x_hooks: hooksSchema.optional(),
  /** For a change that copies data: how long it should take. */
  x_estimate: timeEstimateSchema.optional(),
  x_steps: z.array(plannedStepSchema),
});

export const driftSchema = z.strictObject({
  address: z.string(),
  storage: z.string(),
  disk: z.string(),
  problems: z.array(z.strictObject({ code: driftCodeSchema, message: z.string() })),
});

export const diagnosticSchema = z.strictObject({
  severity: z.enum(['error', 'warning', 'info']),
  /** Stable for machines. */
  code: diagnosticCodeSchema.optional(),
  summary: z.string(),
  detail: z.string().optional(),
  address: z.string().optional(),
  /** The exact figures behind the summary's units, for machines (sizes in bytes). */
  figures: z.record(z.string(), z.number()).optional(),
});

export const capacitySchema = z.strictObject({
  storage: z.string(),
  kind: z.enum(['lvm', 'dir']),
  size: bytes,
  reserve: bytes,
  free_before: z.number().int(),
  /** The lowest free space reached at any step of the plan. */
  free_min: z.number().int(),
  free_after: z.number().int(),
  /**
   * What the declared disks can need at most: (the snapshots their policies and pins can keep,
   * plus the top) × the most one layer can occupy. Null when a policy keeps without bound.
   */
  worst_case: z.number().int().nonnegative().nullable().optional(),
  /** VG metadata area, LVM only. */
  metadata: z
    .strictObject({ size: bytes, free_before: z.number().int(), free_min: z.number().int() })
    .optional(),
  ok: z.boolean(),
});

export const fingerprintSchema = z.strictObject({
  digest: z.string(),
  storages: z.record(z.string(), z.strictObject({ digest: z.string(), items: z.array(z.string()) })),
});

export const planSchema = z.strictObject({
  format_version: z.string(),
  lvchain_version: z.string(),
  /** The instant the plan was made for; retention and schedules are evaluated at it. */
  timestamp: iso,
  /** Unique per plan, shown in `apply` output and events. */
  plan_id: z.string(),
  config_path: z.string(),
  config_digest: z.string(),
  options: z.strictObject({
    mode: z.enum(['full', 'reconcile', 'rollback']),
    allow_destroy: z.boolean(),
    targets: z.array(z.string()),
    merge_direction: z.enum(['auto', 'commit', 'stream']),
    /** Made with --allow-mass-delete; apply must be given it too (a file cannot grant it). */
    allow_mass_delete: z.boolean().optional(),
  }),
  observed_fingerprint: fingerprintSchema,
  applyable: z.boolean(),
  errored: z.boolean(),
  resource_changes: z.array(resourceChangeSchema),
  resource_drift: z.array(driftSchema),
  capacity: z.array(capacitySchema),
  diagnostics: z.array(diagnosticSchema),
  summary: z.strictObject({
    add: z.number().int(),
    change: z.number().int(),
    /** Destroyed disks and discarded data; a snapshot merged away loses nothing and counts in `merge`. */
    destroy: z.number().int(),
    /** Snapshots merged away into a neighbour (their data is kept). */
    merge: z.number().int(),
    bytes_to_copy: bytes,
    /** Bytes zeroed by the storage's wipe policy, on allocation and on removal (format 2.5). */
    bytes_to_zero: bytes.optional(),
    /**
     * How long the copying should take: storages run side by side, so the slowest storage's sum.
     * `assumed` when a storage had no merge on record to estimate from.
     */
    time_estimate: z
      .strictObject({
        seconds: z.number().nonnegative(),
        assumed: z.boolean(),
        at_most: z.boolean().optional(),
      })
      .optional(),
    /** What the merges whose bytes could not be read (inactive chains) copy at most (format 2.5). */
    bytes_to_copy_at_most: bytes.optional(),
  }),
});

export type Step = z.infer<typeof stepSchema>;
export type StepKind = Step['kind'];
export type PlannedStep = z.infer<typeof plannedStepSchema>;
export type PlannedCommand = z.infer<typeof plannedCommandSchema>;
export type FallbackCondition = z.infer<typeof fallbackConditionSchema>;
export type Action = z.infer<typeof actionSchema>;
export type ActionReason = z.infer<typeof actionReasonSchema>;
export type Operation = z.infer<typeof operationSchema>;
/**
 * What the planner plans from a disk's state. An adoption (`import`) and a re-derivation are
 * derived from the observed layers instead (plan/adopt.ts), and apply derives them again.
 */
export type PlannedOperation = Exclude<Operation, { op: 'adopt' } | { op: 'rederive' }>;
export type RederiveOperation = Extract<Operation, { op: 'rederive' }>;
export type ResourceChange = z.infer<typeof resourceChangeSchema>;
export type Drift = z.infer<typeof driftSchema>;
export type Diagnostic = z.infer<typeof diagnosticSchema>;
export type CapacityReport = z.infer<typeof capacitySchema>;
export type Fingerprint = z.infer<typeof fingerprintSchema>;
export type Plan = z.infer<typeof planSchema>;

export function planJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(planSchema, { io: 'output', target: 'draft-2020-12' }),
    $id: 'https://lvchain.dev/schemas/plan.schema.json',
    title: 'lvchain plan',
  };
}
