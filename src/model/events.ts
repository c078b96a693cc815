/** What the applier reports. Renderers turn these into a TTY display or NDJSON. */
import type { StepKind } from './plan.js';

export type ApplyEvent =
  | { type: 'apply_start'; address: string; actions: string[] }
  | { type: 'step_start'; address: string; index: number; count: number; kind: StepKind; description: string }
  | { type: 'step_progress'; address: string; index: number; fraction: number }
  | { type: 'step_complete'; address: string; index: number; kind: StepKind; elapsed_ms: number }
  | { type: 'apply_complete'; address: string; elapsed_ms: number }
  | { type: 'apply_errored'; address: string; message: string; code: string; hints?: string[] }
  | { type: 'change_skipped'; address: string; reason: string }
  | { type: 'steps_adjusted'; address: string; reason: string }
  | { type: 'apply_warning'; address: string; message: string };

export type ApplyHook = (event: ApplyEvent) => void;

export interface ApplyOutcome {
  applied: string[];
  failed: { address: string; message: string }[];
  skipped: { address: string; reason: string }[];
  /** Set when the run was interrupted (SIGINT) between steps. */
  interrupted: boolean;
}
