/**
 * The closed sets of machine codes a plan carries: scripts and `reconcile` branch on them,
 * so a new code is a change of the plan contract.
 */
import { z } from 'zod';

/** What interpreting an observed disk can find wrong with it (DESIGN §9). */
export const problemCodeSchema = z.enum([
  'not_owned',
  'mixed_ownership',
  'in_use',
  'unreadable',
  'not_qcow2',
  'dirty',
  'corrupt',
  'unexpected_backing',
  'broken_backing',
  'top_missing',
  'unplaceable',
  'meta_mismatch',
  'size_mismatch',
  'incomplete_without_intent',
  'conflicting_intents',
  'unverifiable',
  'data_file',
  'unmanaged_feature',
  'not_regular',
  'bad_sidecar',
]);

/** Why a disk is left alone: a problem of the disk, or one the planner finds with a change. */
export const driftCodeSchema = z.enum([...problemCodeSchema.options, 'has_dependants', 'unresumable']);

export const diagnosticCodeSchema = z.enum([
  'has_dependants',
  'disk_missing',
  'retention_refused',
  'shrink_refused',
  'merge_window_closed',
  'running_elsewhere',
  'merge_history_unusable',
  'merge_direction_costlier',
  'proxmox_locked',
]);

export type ProblemCode = z.infer<typeof problemCodeSchema>;
export type DriftCode = z.infer<typeof driftCodeSchema>;
export type DiagnosticCode = z.infer<typeof diagnosticCodeSchema>;
