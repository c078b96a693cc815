/**
 * The steps of a plan: storage operations, not command lines (DESIGN §10), and the commands each
 * is shown with. Part of the plan's versioned JSON contract (model/plan.ts).
 */
import { z } from 'zod';
import { SNAPSHOT_NAME } from '../base/names.js';
import { ISO_INSTANT } from '../base/instants.js';

export const snapshotName = z.string().regex(SNAPSHOT_NAME);

const baseRef = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('top') }),
  z.strictObject({ role: z.literal('snapshot'), snap: snapshotName }),
]);

export const layerRefSchema = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('top') }),
  z.strictObject({ role: z.literal('snapshot'), snap: snapshotName }),
  z.strictObject({ role: z.literal('trash'), of: baseRef }),
]);

export const iso = z.string().regex(ISO_INSTANT);
export const kind = z.enum(['auto', 'pinned']);
export const direction = z.enum(['commit', 'stream']);

export const intentSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('create'), size: z.number().int().nonnegative() }),
  z.strictObject({ op: z.literal('grow'), size: z.number().int().nonnegative() }),
  z.strictObject({ op: z.literal('snapshot'), snap: snapshotName, created: iso, kind }),
  z.strictObject({ op: z.literal('delete'), snap: snapshotName, direction }),
  z.strictObject({ op: z.literal('rollback'), snap: snapshotName }),
  z.strictObject({ op: z.literal('destroy') }),
]);

export const layerMetaSchema = z.strictObject({
  disk: z.string(),
  snap: snapshotName.optional(),
  created: iso.optional(),
  kind: z.enum(['auto', 'pinned', 'external']).optional(),
  policy: z.string().optional(),
  guest: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  consistency: z.enum(['fs', 'crash']).optional(),
  pivoted: z.boolean().optional(),
  protect: z.boolean().optional(),
  incomplete: z.boolean().optional(),
  intent: intentSchema.optional(),
});

export const bytes = z.number().int().nonnegative();
/** The LV's size, zeroed by a wipe; filled in by simulation (plan format 2.5). */
const zeroed = bytes.optional();

/** Storage operations, not command lines (DESIGN §10). Backends translate them. */
export const stepSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('set_meta'),
    layer: layerRefSchema,
    meta: layerMetaSchema,
    purpose: z.enum(['record_intent', 'finish', 'update']),
    /** The metadata this replaces, filled in by simulation: LV tags are changed by difference. */
    from: layerMetaSchema.nullable().optional(),
  }),
  z.strictObject({
    kind: z.literal('allocate'),
    layer: layerRefSchema,
    virtual_size: bytes,
    meta: layerMetaSchema,
    /** LV size for a qcow2 of this virtual size; absent on directories. */
    capacity: bytes.optional(),
  }),
  z.strictObject({ kind: z.literal('wipe'), layer: layerRefSchema, bytes: zeroed }),
  z.strictObject({
    kind: z.literal('format'),
    layer: layerRefSchema,
    virtual_size: bytes,
    backing: layerRefSchema.optional(),
  }),
  z.strictObject({
    kind: z.literal('extend'),
    layer: layerRefSchema,
    virtual_size: bytes,
    capacity: bytes.optional(),
  }),
  z.strictObject({
    kind: z.literal('resize'),
    layer: layerRefSchema,
    virtual_size: bytes,
    preallocation: z.enum(['metadata', 'off']),
  }),
  z.strictObject({ kind: z.literal('rename'), from: layerRefSchema, to: layerRefSchema }),
  z.strictObject({
    kind: z.literal('commit'),
    layer: layerRefSchema,
    into: layerRefSchema,
    bytes,
    /**
     * A live commit of the top: the metadata recorded on `into` once the VM writes to it (the
     * guest paused between QEMU's pivot and this record, so the images agree until it is durable).
     */
    pivot: layerMetaSchema.optional(),
    /** Bytes per second (the storage's mergeRate): qemu-img's -r, a block job's speed. */
    rate: bytes.optional(),
  }),
  z.strictObject({
    kind: z.literal('stream'),
    layer: layerRefSchema,
    from: layerRefSchema,
    onto: layerRefSchema.nullable(),
    bytes,
    /** Bytes per second (the storage's mergeRate): a block job's speed; offline streams have none. */
    rate: bytes.optional(),
  }),
  /** With `wipe`: `bytes` as on `wipe`, zeroed before the LV is removed. */
  z.strictObject({ kind: z.literal('remove'), layer: layerRefSchema, wipe: z.boolean(), bytes: zeroed }),
  /**
   * The running VM moves its writes to `layer` (formatted on `backing`, the layer it wrote so
   * far): one QMP transaction for every disk of the guest, inside a file-system freeze.
   */
  z.strictObject({ kind: z.literal('switch'), layer: layerRefSchema, backing: layerRefSchema }),
  /** The running VM's node of `was`, renamed to `layer` by a stopped run, moved onto the new name. */
  z.strictObject({ kind: z.literal('reattach'), layer: layerRefSchema, was: layerRefSchema }),
  /**
   * Proxmox VE does the operation (DESIGN §13): `qm` on the VM's node, which changes every disk
   * of the VM and keeps its config true. The storage side is Proxmox's; the plan simulates it.
   */
  z.strictObject({
    kind: z.literal('qm'),
    vmid: z.number().int().min(100),
    /** The Proxmox node whose qm runs it: the VM's. */
    node: z.string(),
    qm: z.discriminatedUnion('action', [
      z.strictObject({ action: z.literal('snapshot'), snap: snapshotName, description: z.string() }),
      /** Proxmox's direction: commit into the oldest snapshot, else stream (rebase) into the child. */
      z.strictObject({ action: z.literal('delsnapshot'), snap: snapshotName, direction, bytes }),
      z.strictObject({ action: z.literal('rollback'), snap: snapshotName }),
    ]),
  }),
  /** pvcreate + vgcreate on devices that were blank when planned, and are checked again. */
  z.strictObject({ kind: z.literal('create_vg'), devices: z.array(z.string()).min(1) }),
]);

/** Why a fallback command runs: the condition is closed so apply can test it, not parse it. */
export const fallbackConditionSchema = z.enum([
  /** The device or kernel refuses BLKZEROOUT: zeros are written instead. */
  'zeroout_refused',
]);

/** One thing a step does, each shown in the plan: a host command, a QMP message, a metadata write. */
export const plannedCommandSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('argv'),
    argv: z.array(z.string()).min(1),
    /** Runs only if the command at this index of the step failed for this reason. */
    fallback_for: z
      .strictObject({ index: z.number().int().nonnegative(), when: fallbackConditionSchema })
      .optional(),
  }),
  z.strictObject({
    kind: z.literal('qmp'),
    socket: z.string(),
    message: z.strictObject({
      execute: z.string(),
      arguments: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
  z.strictObject({ kind: z.literal('in_process'), description: z.string() }),
]);

/** A step as saved and shown: the operation plus what it will run on this storage. */
export const plannedStepSchema = z.strictObject({
  step: stepSchema,
  description: z.string(),
  commands: z.array(plannedCommandSchema),
});
