/** The planner's output before `finalizePlan` attaches what each step runs. */
import type {
  Action,
  ActionReason,
  CapacityReport,
  Diagnostic,
  Drift,
  Operation,
  PlannedHooks,
  Step,
  TimeEstimate,
} from '../model/plan.js';
import type { LayerMeta } from '../model/meta.js';
import type { ShapeRow } from '../model/shape.js';

export interface DraftChange {
  address: string;
  type: 'lvchain_vg' | 'lvchain_disk' | 'lvchain_snapshot';
  name: string;
  storage: string;
  disk: string;
  group?: string;
  actions: Action[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  reason: ActionReason;
  reasonDetail?: string;
  irreversible: boolean;
  operation: Operation;
  expectedShape: ShapeRow[];
  topMeta: LayerMeta;
  policy?: string;
  hooks?: PlannedHooks;
  steps: Step[];
  /** How long its merges should take (plan/time-estimate.ts). */
  estimate?: TimeEstimate;
}

/** A change before it is simulated: where it lands and its steps come from the simulation. */
export type ChangeSpec = Omit<DraftChange, 'expectedShape' | 'storage' | 'disk' | 'steps'>;

export interface PlanDraft {
  changes: DraftChange[];
  drift: Drift[];
  diagnostics: Diagnostic[];
  capacity: CapacityReport[];
  /** Per storage and disk, the layers a merge needs the allocation of; read them and plan again. */
  needExtents: Record<string, Record<string, string[]>>;
  /** Virtual sizes the plan allocates that were not measured yet. */
  needMeasure: Record<string, number[]>;
  /** Disks with an interrupted operation or leftovers whose readable headers were not read. */
  needHeaders: Record<string, string[]>;
  /** Disks whose changes touch layers, on storages whose other images were not read for dependants. */
  needDependants: Record<string, string[]>;
  applyable: boolean;
  errored: boolean;
}
