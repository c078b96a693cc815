/**
 * The planner: a pure function of (desired, observed, now, options) (DESIGN §5). Every change
 * is computed on a simulated disk state, so a disk's second change starts where its first
 * ends, capacity is known at every step, and the order is deterministic whatever the input
 * order.
 */
import type { Desired, DesiredDisk, DesiredPolicy, DesiredStorage } from '../model/desired.js';
import type { ObservedDisk, ObservedStorage, ObservedVolumeGroup, Observed } from '../model/observed.js';
import type {
  Action,
  ActionReason,
  CapacityReport,
  Diagnostic,
  Drift,
  Operation,
  Step,
} from '../model/plan.js';
import type { LayerMeta } from '../model/meta.js';
import type { Intent } from '../model/intent.js';
import { describeIntent, encodeIntent } from '../model/intent.js';
import { TOP, snapRef } from '../model/layer.js';
import type { DiskState, SimLayer, Sizing } from './state.js';
import {
  applyStep,
  chainOf,
  childOf,
  findIntents,
  layerAt,
  shapeOf,
  snapshotsOf,
  withMetaFrom,
} from './state.js';
import type { DiskView } from './interpret.js';
import { dependantConflict, interpretDisk, layersMergedOrRemovedBy } from './interpret.js';
import type { MergeFigures, OpContext, OpResult } from './ops.js';
import {
  cleanupLeftovers,
  createDisk,
  deleteSnapshot,
  destroyDisk,
  growDisk,
  layersAbove,
  resume,
  rollback,
  takeSnapshot,
  updateTopMeta,
} from './ops.js';
import type { DirectionOverride } from './merge.js';
import { chooseMerge } from './merge.js';
import type { SpaceDelta } from './capacity.js';
import { capacityReport, deltaBetween, worstCaseBytes } from './capacity.js';
import { decideRetention } from './retention.js';
import type { RetentionInput } from './retention.js';
import { autoSnapshotName, isDue, worstCaseRetained } from './schedule.js';
import { selectTargets } from './targets.js';

export type PlanMode = 'full' | 'reconcile' | 'rollback';

export interface PlanRequest {
  desired: Desired;
  observed: Observed;
  /** Epoch ms: schedules and retention are evaluated at this instant. */
  now: number;
  mode: PlanMode;
  allowDestroy: boolean;
  targets: readonly string[];
  mergeDirection: DirectionOverride;
  rollback?: { disk: string; snap: string; discardNewer: boolean };
  /** Prune with count rules only: this run's snapshot step failed (DESIGN §7). */
  conservativeRetention?: boolean;
  /** Plan no due snapshots (reconcile's pruning pass). */
  skipSchedules?: boolean;
  /** Plan no retention deletions (reconcile's first pass, which only creates and resumes). */
  skipRetention?: boolean;
  /** Accept more deletions than maxDeletesPerRun, or a clock behind the newest snapshot. */
  allowMassDelete?: boolean;
  /** Locks this run holds: a held lock with one of these IDs is not another applier. */
  ownLockIds?: readonly string[];
}

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
  expectedShape: string;
  topMeta: LayerMeta;
  policy?: string;
  steps: Step[];
}

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

/**
 * LV sizes from `qemu-img measure`. A size not measured yet is recorded in `missing` and
 * estimated, so a first pass can find out which sizes the plan needs; the final pass has them.
 * Without `missing`, an unmeasured size is a bug.
 */
export function sizingFor(storage: ObservedStorage, missing?: Set<number>): Sizing {
  const cache = new Map<number, { required: number; fullyAllocated: number }>();
  const measure = (v: number) => {
    let m = cache.get(v);
    if (!m) {
      m = storage.measurements[v];
      if (!m) {
        if (!missing) throw new Error(`no qemu-img measurement of ${v} bytes for storage ${storage.name}`);
        missing.add(v);
        // Generous: 16 bytes of L2 and 2 of refcount per 128 KiB cluster, plus a few MiB.
        m = {
          required: 4 * 2 ** 20 + Math.ceil(v / 131072) * 18,
          fullyAllocated: v + Math.ceil(v / 131072) * 18 + 4 * 2 ** 20,
        };
      }
      cache.set(v, m);
    }
    return m;
  };
  if (storage.kind === 'lvm') {
    const extent = storage.extentSize;
    return {
      capacityFor: (v) => Math.ceil(measure(v).fullyAllocated / extent) * extent,
      formattedBytes: (v) => measure(v).required,
      fullyAllocated: (v) => measure(v).fullyAllocated,
    };
  }
  return { formattedBytes: (v) => measure(v).required, fullyAllocated: (v) => measure(v).fullyAllocated };
}

const MiB = 1024 * 1024;

/**
 * The VG `pvs:` would create, if every device is there and blank: LVM's defaults of 4 MiB
 * extents, data starting at 1 MiB, and a 1 MiB metadata area (about half usable).
 */
function prospectiveVg(
  pvs: readonly string[],
  observed: ObservedVolumeGroup,
): { observed: ObservedVolumeGroup; devices: string[] } | { error: string } {
  const devices = observed.devices ?? [];
  const missing = pvs.filter((p) => !devices.some((d) => d.path === p && d.exists));
  if (missing.length > 0)
    return { error: `${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist on the host` };
  const used = devices.filter((d) => d.signatures.length > 0);
  if (used.length > 0)
    return { error: used.map((d) => `${d.path} is not blank: ${d.signatures.join(', ')}`).join('; ') };
  const extent = observed.extentSize;
  const size = devices.reduce((sum, d) => sum + Math.max(0, Math.floor((d.size - MiB) / extent) * extent), 0);
  return {
    devices: [...pvs],
    observed: { ...observed, exists: true, size, free: size, mdaSize: 1044480, mdaFree: 520704, lvCount: 0 },
  };
}

/**
 * Worst-case bytes for the disks declared on a storage. Existing LVs give their real size, so
 * a plan measures only the sizes of disks it creates or grows (it measures those anyway).
 */
function worstCase(sp: StoragePlanner): number | null {
  const disks = Object.values(sp.req.desired.disks).filter((d) => d.storage === sp.storage.name);
  return worstCaseBytes(
    disks.map((d) => {
      const policy = d.policy !== undefined ? sp.req.desired.policies[d.policy] : undefined;
      const spec =
        policy?.schedule !== undefined ? { cron: policy.schedule, timezone: policy.timezone } : undefined;
      const pinned =
        d.guest !== undefined ? (sp.req.desired.guests[d.guest]?.pinned.length ?? 0) : d.pinned.length;
      const retained = spec && policy ? worstCaseRetained(policy.retention, spec, pinned) : pinned;
      const top = sp.observed.disks[d.name]?.layers.find((l) => l.ref.role === 'top');
      const current = top?.capacity !== undefined && top.meta?.size === d.size ? top.capacity : undefined;
      const layerBytes = current ?? sp.sizing.capacityFor?.(d.size) ?? sp.sizing.fullyAllocated(d.size);
      return { retained, layerBytes };
    }),
  );
}

/** Collects changes of one storage in order, simulating every step. */
class StoragePlanner {
  readonly changes: DraftChange[] = [];
  readonly deltas: SpaceDelta[] = [];
  readonly drift: Drift[] = [];
  readonly diagnostics: Diagnostic[] = [];
  /** Disk name → layer names. */
  readonly needExtents = new Map<string, Set<string>>();
  readonly needMeasure = new Set<number>();
  readonly needHeaders = new Set<string>();
  readonly needDependants = new Set<string>();
  readonly sizing: Sizing;

  constructor(
    readonly req: PlanRequest,
    readonly storage: DesiredStorage,
    readonly observed: ObservedStorage,
  ) {
    this.sizing = sizingFor(observed, this.needMeasure);
  }

  planVgCreation(devices: string[]): void {
    const name = this.storage.name;
    this.changes.push({
      address: `vg.${name}`,
      type: 'lvchain_vg',
      name,
      storage: name,
      disk: '',
      actions: ['create'],
      before: null,
      after: { devices, size: this.observed.size },
      reason: 'vg_declared',
      reasonDetail: `declared with pvs: and absent; ${devices.join(', ')} ${devices.length > 1 ? 'are' : 'is'} blank`,
      irreversible: false,
      operation: { op: 'create_vg', devices },
      expectedShape: '',
      topMeta: { disk: '' },
      steps: [{ kind: 'create_vg', devices }],
    });
  }

  ctx(disk: string, topMeta: LayerMeta, policy?: string): OpContext {
    const wipe = this.storage.kind === 'lvm' ? this.storage.wipe : 'none';
    const c: OpContext = {
      sizing: this.sizing,
      wipeOnFree: wipe === 'zeroout-on-free',
      wipeOnCreate: wipe === 'zeroout-on-create',
      topMeta: { ...topMeta, disk },
    };
    if (policy !== undefined) c.policy = policy;
    return c;
  }

  /** Simulate and record a change; returns the state after it, or undefined if the steps are inconsistent. */
  add(
    state: DiskState,
    change: Omit<DraftChange, 'expectedShape' | 'storage' | 'disk' | 'steps'>,
    result: OpResult,
    ctx: OpContext,
  ): DiskState | undefined {
    if (!result.ok) {
      this.diagnostics.push({
        severity: 'error',
        summary: `cannot plan ${change.address}: ${result.reason}`,
        address: change.address,
      });
      return undefined;
    }
    // Images outside the chain are read only when a change merges or removes a layer (LVM plans).
    if (this.observed.dependantsRead === false && layersMergedOrRemovedBy(result.steps).length > 0)
      this.needDependants.add(state.disk);
    const conflict = dependantConflict(state, result.steps, this.observed.disks[state.disk]);
    if (conflict !== undefined) {
      this.drift.push({
        address: change.address,
        storage: this.storage.name,
        disk: state.disk,
        problems: [{ code: 'has_dependants', message: conflict }],
      });
      this.diagnostics.push({
        severity: 'warning',
        code: 'has_dependants',
        summary: `${change.address} is refused: ${conflict}`,
        address: change.address,
      });
      return undefined;
    }
    let cur = state;
    const deltas: SpaceDelta[] = [];
    try {
      for (const step of result.steps) {
        const next = applyStep(cur, step, ctx.sizing);
        deltas.push(deltaBetween(cur, next));
        cur = next;
      }
    } catch (e) {
      this.diagnostics.push({
        severity: 'error',
        summary: `internal: steps of ${change.address} do not apply: ${String(e)}`,
        address: change.address,
      });
      return undefined;
    }
    this.deltas.push(...deltas);
    this.changes.push({
      ...change,
      storage: this.storage.name,
      disk: state.disk,
      expectedShape: shapeOf(state),
      steps: withMetaFrom(state, result.steps, ctx.sizing),
    });
    return cur;
  }
}

export function planChanges(req: PlanRequest): PlanDraft {
  const storages = [
    ...new Set([...Object.keys(req.desired.storages), ...Object.keys(req.observed.storages)]),
  ].sort();
  const all: StoragePlanner[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const name of storages) {
    const desired = req.desired.storages[name];
    const observed = req.observed.storages[name];
    if (!desired) continue;
    if (!observed) {
      diagnostics.push({ severity: 'error', summary: `storage ${name} was not observed` });
      continue;
    }
    if (observed.errors.length > 0) {
      for (const e of observed.errors)
        diagnostics.push({ severity: 'error', summary: `storage ${name}: ${e}` });
      continue;
    }
    const vg =
      desired.kind === 'lvm' && observed.kind === 'lvm' && !observed.exists && desired.pvs.length > 0
        ? prospectiveVg(desired.pvs, observed)
        : undefined;
    if (vg && 'error' in vg) {
      diagnostics.push({
        severity: 'error',
        summary: `volume group ${name} cannot be created: ${vg.error}`,
        detail: 'lvchain creates a VG only on devices with no signature of any kind. Nothing was changed.',
      });
      continue;
    }
    const sp = new StoragePlanner(req, desired, vg ? vg.observed : observed);
    if (vg) sp.planVgCreation(vg.devices);
    planStorage(sp);
    all.push(sp);
  }

  const changes = all.flatMap((sp) => sp.changes);
  const selected = selectTargets(changes, req.targets, req.desired);
  diagnostics.push(...selected.diagnostics);
  const capacity: CapacityReport[] = [];
  for (const sp of all) {
    const kept = new Set(selected.changes.filter((c) => c.storage === sp.storage.name));
    // Capacity is re-simulated over the selected changes only.
    const deltas = kept.size === sp.changes.length ? sp.deltas : deltasOf(sp, kept);
    const report = { ...capacityReport(sp.observed, sp.storage.reserve, deltas), worst_case: worstCase(sp) };
    capacity.push(report);
    if (!report.ok) diagnostics.push(capacityDiagnostic(report));
  }
  for (const sp of all) diagnostics.push(...sp.diagnostics);
  const needExtents: Record<string, Record<string, string[]>> = {};
  const needMeasure: Record<string, number[]> = {};
  const needHeaders: Record<string, string[]> = {};
  const needDependants: Record<string, string[]> = {};
  for (const sp of all) {
    const name = sp.storage.name;
    if (sp.needExtents.size > 0)
      needExtents[name] = Object.fromEntries(
        [...sp.needExtents.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([d, l]) => [d, [...l].sort()]),
      );
    if (sp.needMeasure.size > 0) needMeasure[name] = [...sp.needMeasure].sort((a, b) => a - b);
    if (sp.needHeaders.size > 0) needHeaders[name] = [...sp.needHeaders].sort();
    if (sp.needDependants.size > 0) needDependants[name] = [...sp.needDependants].sort();
  }
  const errored = diagnostics.some((d) => d.severity === 'error');
  return {
    changes: selected.changes,
    drift: all.flatMap((sp) => sp.drift),
    diagnostics,
    capacity,
    needExtents,
    needMeasure,
    needHeaders,
    needDependants,
    errored,
    applyable: !errored && selected.changes.length > 0,
  };
}

function deltasOf(sp: StoragePlanner, kept: Set<DraftChange>): SpaceDelta[] {
  const out: SpaceDelta[] = [];
  let i = 0;
  for (const c of sp.changes) {
    const n = c.steps.length;
    if (kept.has(c)) out.push(...sp.deltas.slice(i, i + n));
    i += n;
  }
  return out;
}

function capacityDiagnostic(r: CapacityReport): Diagnostic {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  if (r.metadata && r.metadata.free_min < 0) {
    return {
      severity: 'error',
      summary: `the plan would fill the LVM metadata area of ${r.storage}`,
      detail: `metadata area ${mb(r.metadata.size)}, free ${r.metadata.free_before} bytes, projected ${r.metadata.free_min} bytes at the fullest point. Remove LVs, or create the VG with a larger --metadatasize.`,
    };
  }
  return {
    severity: 'error',
    summary: `the plan does not fit on ${r.storage}: free space would drop to ${mb(r.free_min)}, below the reserve of ${mb(r.reserve)}`,
    detail: `size ${mb(r.size)}, free now ${mb(r.free_before)}, lowest point ${mb(r.free_min)}, after ${mb(r.free_after)}. Free space, lower the reserve, or plan fewer changes at once.`,
  };
}

interface Group {
  id: string;
  guest?: string;
  disks: DesiredDisk[];
  pinned: string[];
  policy?: DesiredPolicy;
}

function planStorage(sp: StoragePlanner): void {
  const { req, storage, observed } = sp;
  if (!observed.exists && storage.kind === 'lvm') {
    sp.diagnostics.push({
      severity: 'error',
      summary: `volume group ${storage.name} does not exist${storage.host ? ` on host ${storage.host}` : ''}`,
      detail:
        storage.pvs.length > 0
          ? undefined
          : 'Create it, or declare pvs: so lvchain creates it on blank devices.',
    });
    return;
  }
  const holder = observed.lockHeldBy;
  if (holder && (holder === 'unknown' || !(req.ownLockIds ?? []).includes(holder.id))) {
    sp.diagnostics.push({
      severity: 'warning',
      summary: `an lvchain run is changing ${storage.name} right now${holder === 'unknown' ? '' : `: ${holder.operation} by ${holder.who} since ${holder.created} (lock ${holder.id})`}`,
      detail: 'This plan reflects the storage as it was observed; plan again when that run has finished.',
    });
  }
  if (req.mode === 'rollback') {
    if (req.rollback) planRollback(sp, req.rollback);
    return;
  }
  if (observed.foreign.length > 0 && req.mode === 'full') {
    const names = observed.foreign.map((f) => f.name);
    sp.diagnostics.push({
      severity: 'info',
      summary: `${names.length} object(s) on ${storage.name} are not lvchain's and are left alone`,
      detail: names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : ''),
    });
  }
  const declared = Object.values(req.desired.disks).filter((d) => d.storage === storage.name);
  const groups = new Map<string, Group>();
  for (const d of declared.sort((a, b) => a.name.localeCompare(b.name))) {
    const id = d.guest !== undefined ? `guest.${d.guest}` : `disk.${d.name}`;
    const pinned = d.guest !== undefined ? (req.desired.guests[d.guest]?.pinned ?? []) : d.pinned;
    const policy = d.policy !== undefined ? req.desired.policies[d.policy] : undefined;
    const g = groups.get(id) ?? {
      id,
      disks: [],
      pinned,
      ...(d.guest !== undefined ? { guest: d.guest } : {}),
      ...(policy ? { policy } : {}),
    };
    g.disks.push(d);
    groups.set(id, g);
  }
  for (const id of [...groups.keys()].sort()) planGroup(sp, groups.get(id) as Group);
  noteUnverified(sp);
  const declaredNames = new Set(declared.map((d) => d.name));
  for (const name of Object.keys(observed.disks).sort()) {
    if (!declaredNames.has(name) && !req.desired.disks[name])
      planUndeclared(sp, observed.disks[name] as ObservedDisk);
  }
}

/** Say which changed chains the plan could not verify (DESIGN §5: headers are read only where needed). */
function noteUnverified(sp: StoragePlanner): void {
  const changed = [...new Set(sp.changes.map((c) => c.disk))];
  const inactive: string[] = [];
  let fromTags = 0;
  for (const name of changed) {
    const layers = sp.observed.disks[name]?.layers ?? [];
    if (layers.some((l) => l.lv?.active === false)) inactive.push(name);
    else if (layers.some((l) => l.header.state === 'not-read')) fromTags++;
  }
  for (const name of inactive) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `disk.${name}: the chain is inactive and was not verified; it was planned from LV names and tags`,
      detail:
        'Apply activates it, reads and checks every header before changing anything, and deactivates it again afterwards.',
      address: `disk.${name}`,
    });
  }
  if (fromTags > 0) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `${fromTags} disk(s) on ${sp.storage.name} were planned from LV names and tags; apply reads and checks their headers before acting`,
    });
  }
}

function viewOf(sp: StoragePlanner, name: string): DiskView {
  const obs = sp.observed.disks[name] ?? { name, storage: sp.storage.name, layers: [] };
  const view = interpretDisk(obs, sp.sizing);
  // Resuming is a decision that needs the headers: read them for this disk (active LVs only).
  const unusual = findIntents(view.state).length > 0 || obs.layers.some((l) => l.ref.role === 'trash');
  if (unusual && obs.layers.some((l) => l.header.state === 'not-read' && l.lv?.active))
    sp.needHeaders.add(name);
  return view;
}

/** Drift and in-use disks are reported and left alone. */
function blockedReason(sp: StoragePlanner, view: DiskView, address: string): string | undefined {
  if (view.problems.length > 0) {
    sp.drift.push({
      address,
      storage: sp.storage.name,
      disk: view.state.disk,
      problems: view.problems.map((p) => ({ code: p.code, message: p.message })),
    });
    const summary = `${address} is left alone: ${view.problems[0]?.message}${view.problems.length > 1 ? ` (and ${view.problems.length - 1} more problems)` : ''}`;
    sp.diagnostics.push({ severity: 'warning', summary, address });
    return summary;
  }
  const verdict = sp.observed.disks[view.state.disk]?.engine;
  if (verdict?.kind === 'refused') {
    const summary = `${address} is in use by another process (${verdict.holders.join(', ')}); lvchain changes disks offline only`;
    sp.diagnostics.push({ severity: 'warning', summary, address });
    return summary;
  }
  return undefined;
}

function topMetaOf(disk: DesiredDisk): LayerMeta {
  const m: LayerMeta = { disk: disk.name };
  if (disk.guest !== undefined) m.guest = disk.guest;
  if (disk.protect) m.protect = true;
  return m;
}

const intentActions: Record<Intent['op'], Action[]> = {
  create: ['create'],
  grow: ['update'],
  snapshot: ['create'],
  delete: ['delete'],
  rollback: ['delete', 'create'],
  destroy: ['delete'],
};

/** Finish an interrupted operation, then clean leftovers. Returns the state after both. */
function planResume(
  sp: StoragePlanner,
  state: DiskState,
  topMeta: LayerMeta,
  policy: string | undefined,
): DiskState | undefined {
  const disk = state.disk;
  const intents = findIntents(state);
  let cur: DiskState | undefined = state;
  const first = intents[0];
  if (first) {
    const ctx = sp.ctx(disk, topMeta, policy);
    const intent = first.intent;
    const result = resume(state, intent, ctx, resumeFigures(sp, state, intent));
    const snapOps = intent.op === 'snapshot' || intent.op === 'delete';
    const address = snapOps ? `snapshot.${disk}@${intent.snap}` : `disk.${disk}`;
    if (!result.ok) {
      sp.drift.push({
        address,
        storage: sp.storage.name,
        disk,
        problems: [
          {
            code: 'unresumable',
            message: `an interrupted ${describeIntent(intent)} cannot be resumed: ${result.reason}`,
          },
        ],
      });
      sp.diagnostics.push({
        severity: 'warning',
        summary: `${address} is left alone: the interrupted ${describeIntent(intent)} cannot be resumed: ${result.reason}`,
        address,
      });
      return undefined;
    }
    cur = sp.add(
      state,
      {
        address,
        type: snapOps ? 'lvchain_snapshot' : 'lvchain_disk',
        name: snapOps ? intent.snap : disk,
        actions: intentActions[intent.op],
        before: null,
        after: null,
        reason: 'resume_interrupted',
        reasonDetail: `finish the interrupted ${describeIntent(intent)} (intent ${encodeIntent(intent)})`,
        irreversible: intent.op === 'rollback' || intent.op === 'destroy',
        operation: { op: 'resume', intent },
        topMeta: ctx.topMeta,
        ...(policy !== undefined ? { policy } : {}),
      },
      result,
      ctx,
    );
  }
  if (!cur) return undefined;
  const ctx = sp.ctx(disk, topMeta, policy);
  const leftovers = cleanupLeftovers(cur, ctx);
  if (leftovers.length > 0) {
    cur = sp.add(
      cur,
      {
        address: `disk.${disk}`,
        type: 'lvchain_disk',
        name: disk,
        actions: ['update'],
        before: null,
        after: null,
        reason: 'resume_interrupted',
        reasonDetail: 'remove layers left renamed aside by an interrupted merge (their data was merged)',
        irreversible: false,
        operation: { op: 'cleanup' },
        topMeta: ctx.topMeta,
      },
      { ok: true, steps: leftovers },
      ctx,
    );
  }
  return cur;
}

/**
 * A merge run again copies its whole amount again (a commit re-copies what C holds, a stream
 * what C still sees through S), so a resume shows the figure of its direction, read as for a
 * new delete.
 */
function resumeFigures(sp: StoragePlanner, state: DiskState, intent: Intent): MergeFigures {
  if (intent.op !== 'delete' || !layerAt(state, snapRef(intent.snap))) return {};
  const choice = chooseMerge(state, intent.snap, intent.direction);
  if (choice.commitBytes === null || choice.streamBytes === null)
    needExtentsFor(sp, state.disk, state, intent.snap);
  return {
    ...(choice.commitBytes !== null ? { commitBytes: choice.commitBytes } : {}),
    ...(choice.streamBytes !== null ? { streamBytes: choice.streamBytes } : {}),
  };
}

function planGroup(sp: StoragePlanner, group: Group): void {
  const { req } = sp;
  const policyName = group.policy?.name;
  const states = new Map<string, DiskState>();
  const blocked: string[] = [];
  const nowIso = new Date(req.now).toISOString().replace(/\.\d{3}Z$/, 'Z');

  // Phase A: interrupted work, creation, metadata and growth, disk by disk.
  for (const disk of group.disks) {
    const address = `disk.${disk.name}`;
    const view = viewOf(sp, disk.name);
    if (blockedReason(sp, view, address)) {
      blocked.push(disk.name);
      continue;
    }
    const topMeta = topMetaOf(disk);
    let state: DiskState | undefined = planResume(sp, view.state, topMeta, policyName);
    if (!state) {
      blocked.push(disk.name);
      continue;
    }
    const ctx = sp.ctx(disk.name, topMeta, policyName);
    const top = layerAt(state, TOP);
    if (!top && req.mode !== 'full') {
      // Only apply creates disks: the group waits, and the others go on.
      sp.diagnostics.push({
        severity: 'warning',
        code: 'disk_missing',
        summary: `${address} is declared but does not exist on ${sp.storage.name}; ${req.mode} does not create disks: run "lvchain apply"`,
        address,
      });
      blocked.push(disk.name);
      continue;
    }
    if (req.mode === 'full') {
      if (!top) {
        state = sp.add(
          state,
          {
            address,
            type: 'lvchain_disk',
            name: disk.name,
            actions: ['create'],
            before: null,
            after: { size: disk.size, protect: disk.protect },
            reason: 'disk_declared',
            reasonDetail: 'declared in the config and not found on the storage',
            irreversible: false,
            operation: { op: 'create', size: disk.size },
            topMeta: ctx.topMeta,
          },
          createDisk(state, disk.size, ctx),
          ctx,
        );
      } else {
        if ((top.meta?.protect ?? false) !== disk.protect || (top.meta?.guest ?? undefined) !== disk.guest) {
          state = sp.add(
            state,
            {
              address,
              type: 'lvchain_disk',
              name: disk.name,
              actions: ['update'],
              before: { protect: top.meta?.protect ?? false, guest: top.meta?.guest ?? null },
              after: { protect: disk.protect, guest: disk.guest ?? null },
              reason: 'protect_changed',
              reasonDetail: 'protect or guest membership changed in the config',
              irreversible: false,
              operation: { op: 'set_protect', protect: disk.protect },
              topMeta: ctx.topMeta,
            },
            updateTopMeta(state, ctx),
            ctx,
          );
        }
        const current = state ? layerAt(state, TOP)?.virtualSize : undefined;
        if (state && current !== undefined && disk.size < current) {
          sp.diagnostics.push({
            severity: 'error',
            summary: `disk.${disk.name}: the declared size ${disk.size} is below the current size ${current}; shrinking is refused`,
            address,
          });
        } else if (state && current !== undefined && disk.size > current) {
          state = sp.add(
            state,
            {
              address,
              type: 'lvchain_disk',
              name: disk.name,
              actions: ['update'],
              before: { size: current },
              after: { size: disk.size },
              reason: 'size_increased',
              reasonDetail: `the declared size grew from ${current} to ${disk.size} bytes`,
              irreversible: false,
              operation: { op: 'grow', from: current, to: disk.size },
              topMeta: ctx.topMeta,
            },
            growDisk(state, disk.size, ctx),
            ctx,
          );
        }
      }
    }
    if (state) states.set(disk.name, state);
    else blocked.push(disk.name);
  }

  // Phase B: the group's new snapshots, all disks under one name and one time.
  const newSnapshots: { name: string; created: number; kind: 'auto' | 'pinned' }[] = [];
  if (blocked.length > 0) {
    if (group.disks.length > 1)
      sp.diagnostics.push({
        severity: 'warning',
        summary: `${group.id}: no snapshots are taken while ${blocked.join(', ')} ${blocked.length > 1 ? 'are' : 'is'} left alone, so the guest's disks stay consistent`,
        address: group.id,
      });
  } else {
    if (req.mode === 'full') {
      for (const snap of group.pinned) {
        if ([...states.values()].some((s) => !layerAt(s, { role: 'snapshot', snap })))
          newSnapshots.push({ name: snap, created: req.now, kind: 'pinned' });
      }
    }
    const policy = group.policy;
    if (policy?.schedule !== undefined && !req.skipSchedules) {
      const spec = { cron: policy.schedule, timezone: policy.timezone };
      const stream = groupStream(states, policy.name);
      // Only this policy's own complete snapshots satisfy its schedule; a pinned one does not.
      const due = isDue(
        spec,
        req.now,
        stream.filter((s) => s.complete && s.kind === 'auto').map((s) => s.created),
      );
      if (due.due) {
        const name = autoSnapshotName(req.now);
        if ([...states.values()].some((s) => layerAt(s, { role: 'snapshot', snap: name }))) {
          sp.diagnostics.push({
            severity: 'warning',
            summary: `${group.id}: a snapshot named ${name} already exists; the due snapshot is skipped`,
            address: group.id,
          });
        } else newSnapshots.push({ name, created: req.now, kind: 'auto' });
      }
    }
    for (const ns of newSnapshots) {
      const groupId = `${group.id}@${ns.name}`;
      for (const disk of group.disks) {
        const state = states.get(disk.name) as DiskState;
        if (layerAt(state, { role: 'snapshot', snap: ns.name })) continue;
        const ctx = sp.ctx(disk.name, topMetaOf(disk), policyName);
        const next = sp.add(
          state,
          {
            address: `snapshot.${disk.name}@${ns.name}`,
            type: 'lvchain_snapshot',
            name: ns.name,
            ...(group.disks.length > 1 ? { group: groupId } : {}),
            actions: ['create'],
            before: null,
            after: {
              name: ns.name,
              kind: ns.kind,
              created: nowIso,
              ...(ns.kind === 'auto' && policyName ? { policy: policyName } : {}),
            },
            reason: ns.kind === 'pinned' ? 'pinned_declared' : 'schedule_due',
            reasonDetail:
              ns.kind === 'pinned'
                ? 'declared as a pinned snapshot in the config'
                : `schedule "${group.policy?.schedule}" in ${group.policy?.timezone} is due`,
            irreversible: false,
            operation: {
              op: 'snapshot',
              snap: ns.name,
              kind: ns.kind,
              created: nowIso,
              ...(ns.kind === 'auto' && policyName ? { policy: policyName } : {}),
            },
            topMeta: ctx.topMeta,
            ...(policyName !== undefined ? { policy: policyName } : {}),
          },
          takeSnapshot(state, ns.name, nowIso, ns.kind, ctx, disk.size),
          ctx,
        );
        if (next) states.set(disk.name, next);
      }
    }
  }

  // Phase C: deletions, oldest first on each disk.
  const toDelete = new Map<string, { reason: ActionReason; detail: string }>();
  if (req.mode === 'full') {
    const pinned = new Set(group.pinned);
    for (const state of states.values()) {
      for (const l of Object.values(state.layers)) {
        if (l.ref.role === 'snapshot' && l.meta?.kind === 'pinned' && !pinned.has(l.ref.snap)) {
          toDelete.set(l.ref.snap, { reason: 'pinned_removed', detail: 'no longer declared in the config' });
        }
      }
    }
  }
  const policy = group.policy;
  if (policy && !req.skipRetention && Object.keys(policy.retention).length > 0 && blocked.length === 0) {
    const stream = groupStream(states, policy.name);
    const result = decideRetention(stream, policy.retention, {
      timezone: policy.timezone,
      now: req.now,
      maxDeletesPerRun: policy.maxDeletesPerRun,
      ...(req.conservativeRetention ? { conservative: true } : {}),
      ...(req.allowMassDelete ? { allowMassDelete: true } : {}),
    });
    for (const w of result.warnings)
      sp.diagnostics.push({ severity: 'warning', summary: `${group.id}: ${w}`, address: group.id });
    if (result.status === 'refused') {
      sp.diagnostics.push({
        severity: 'error',
        code: 'retention_refused',
        summary: `${group.id}: retention refused: ${result.refusal.message}`,
        detail: 'Nothing is deleted. Check the policy and the clock; pass --allow-mass-delete to accept it.',
        address: group.id,
      });
    }
    for (const d of result.decisions)
      if (d.action === 'delete')
        toDelete.set(d.id, {
          reason: 'retention_expired',
          detail: `retention expired: kept by no rule of policy ${policy.name}`,
        });
  }
  // Oldest first, one name at a time across the guest's disks: each name's deletions form one
  // group, which apply prepares as a whole (every disk checked and its intent recorded) before it
  // merges anything, so a disk in use cannot leave the guest's disks with different snapshots.
  const stopped = new Set<string>();
  for (const snap of deletionOrder(states, toDelete)) {
    const why = toDelete.get(snap) as { reason: ActionReason; detail: string };
    const holders = group.disks.filter((d) => {
      const state = states.get(d.name);
      return !stopped.has(d.name) && state !== undefined && layerAt(state, snapRef(snap)) !== undefined;
    });
    const groupId = holders.length > 1 ? `${group.id}@${snap}` : undefined;
    for (const disk of holders) {
      const next = planDelete(sp, disk, states.get(disk.name) as DiskState, snap, why, policyName, groupId);
      if (next) states.set(disk.name, next);
      else stopped.add(disk.name);
    }
  }
}

/** The names to delete, oldest first (chain order within each disk), across a group's disks. */
function deletionOrder(
  states: Map<string, DiskState>,
  toDelete: Map<string, { reason: ActionReason; detail: string }>,
): string[] {
  const rank = new Map<string, [number, number]>();
  for (const state of states.values()) {
    const chain = chainOf(state);
    (chain ? snapshotsOf(chain) : []).forEach((l, i) => {
      if (l.ref.role !== 'snapshot' || !toDelete.has(l.ref.snap) || rank.has(l.ref.snap)) return;
      rank.set(l.ref.snap, [Date.parse(l.meta?.created ?? '') || Number.MAX_SAFE_INTEGER, i]);
    });
  }
  return [...rank.entries()]
    .sort(([a, [ta, ia]], [b, [tb, ib]]) => ta - tb || ia - ib || a.localeCompare(b))
    .map(([snap]) => snap);
}

/** The group's snapshot stream for retention: names across its disks, complete where all disks have them. */
function groupStream(states: Map<string, DiskState>, policy: string): RetentionInput[] {
  const byName = new Map<string, { created: number; kind: RetentionInput['kind']; count: number }>();
  for (const state of states.values()) {
    for (const l of Object.values(state.layers)) {
      if (l.ref.role !== 'snapshot' || !l.meta?.created) continue;
      const kind: RetentionInput['kind'] =
        l.meta.kind === 'auto'
          ? l.meta.policy === policy
            ? 'auto'
            : 'foreign'
          : l.meta.kind === 'pinned'
            ? 'pinned'
            : 'foreign';
      const prev = byName.get(l.ref.snap);
      byName.set(l.ref.snap, { created: Date.parse(l.meta.created), kind, count: (prev?.count ?? 0) + 1 });
    }
  }
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, v]) => ({ id, created: v.created, kind: v.kind, complete: v.count === states.size }));
}

function planDelete(
  sp: StoragePlanner,
  disk: DesiredDisk,
  state: DiskState,
  snap: string,
  why: { reason: ActionReason; detail: string },
  policy: string | undefined,
  group: string | undefined,
): DiskState | undefined {
  const layer = layerAt(state, { role: 'snapshot', snap }) as SimLayer;
  const choice = chooseMerge(state, snap, sp.req.mergeDirection);
  // A forced direction still shows both figures: read them whenever one is missing.
  if (choice.commitBytes === null || choice.streamBytes === null) needExtentsFor(sp, disk.name, state, snap);
  const ctx = sp.ctx(disk.name, topMetaOf(disk), policy);
  return sp.add(
    state,
    {
      address: `snapshot.${disk.name}@${snap}`,
      type: 'lvchain_snapshot',
      name: snap,
      ...(group !== undefined ? { group } : {}),
      actions: ['delete'],
      before: { name: snap, kind: layer.meta?.kind ?? null, created: layer.meta?.created ?? null },
      after: null,
      reason: why.reason,
      reasonDetail: why.detail,
      irreversible: false,
      operation: {
        op: 'delete',
        snap,
        merge: choice.direction === 'commit' ? 'merge_commit' : 'merge_stream',
        commit_bytes: choice.commitBytes,
        stream_bytes: choice.streamBytes,
        chosen_because: choice.because,
      },
      topMeta: ctx.topMeta,
      ...(policy !== undefined ? { policy } : {}),
    },
    deleteSnapshot(
      state,
      snap,
      choice.direction,
      {
        ...(choice.commitBytes !== null ? { commitBytes: choice.commitBytes } : {}),
        ...(choice.streamBytes !== null ? { streamBytes: choice.streamBytes } : {}),
      },
      ctx,
    ),
    ctx,
  );
}

/**
 * Ask for the allocation of the layers a merge of `snap` involves: the snapshot and its child,
 * under the names they had when observed (an earlier step of this plan may have renamed them),
 * and any layer an earlier merge of this plan folded into them (it is no longer in the
 * simulated state). Reading only these keeps a deep chain's plan from mapping every layer.
 */
function needExtentsFor(sp: StoragePlanner, disk: string, state: DiskState, snap: string): void {
  const S = snapRef(snap);
  const involved = [layerAt(state, S), childOf(state, S)].filter((l): l is SimLayer => l !== undefined);
  if (!involved.some((l) => l.formatted && l.extents === undefined)) return;
  const wanted = new Set(involved.map((l) => l.origin));
  const live = new Set(Object.values(state.layers).map((l) => l.origin));
  const names = sp.needExtents.get(disk) ?? new Set<string>();
  for (const l of sp.observed.disks[disk]?.layers ?? []) {
    if (wanted.has(l.name) || !live.has(l.name)) names.add(l.name);
  }
  sp.needExtents.set(disk, names);
}

function planUndeclared(sp: StoragePlanner, disk: ObservedDisk): void {
  const { req } = sp;
  const view = interpretDisk(disk, sp.sizing);
  const address = `disk.${disk.name}`;
  if (!view.owned) return;
  if (blockedReason(sp, view, address)) return;
  const topMeta: LayerMeta = { ...(layerAt(view.state, TOP)?.meta ?? { disk: disk.name }) };
  delete topMeta.intent;
  delete topMeta.incomplete;
  const state = planResume(sp, view.state, topMeta, undefined);
  // A resumed destroy leaves no layer: nothing is left to keep or to destroy.
  if (!state || req.mode !== 'full' || Object.keys(state.layers).length === 0) return;
  if (!req.allowDestroy) {
    sp.diagnostics.push({
      severity: 'info',
      summary: `${address} exists on ${sp.storage.name} but is no longer declared; it is kept (destroying it needs --allow-destroy)`,
      address,
    });
    return;
  }
  if (Object.values(state.layers).some((l) => l.meta?.protect)) {
    sp.diagnostics.push({
      severity: 'error',
      summary: `${address} cannot be destroyed: it is protected (protect: true)`,
      detail: 'Declare it again with protect: false, apply, then remove it to destroy it.',
      address,
    });
    return;
  }
  const ctx = sp.ctx(disk.name, topMeta);
  const chain = chainOf(state);
  sp.add(
    state,
    {
      address,
      type: 'lvchain_disk',
      name: disk.name,
      actions: ['delete'],
      before: { layers: chain?.length ?? Object.keys(state.layers).length },
      after: null,
      reason: 'destroy_requested',
      reasonDetail: 'not declared in the config, and --allow-destroy was given',
      irreversible: true,
      operation: { op: 'destroy' },
      topMeta: ctx.topMeta,
    },
    destroyDisk(state, ctx),
    ctx,
  );
}

function planRollback(sp: StoragePlanner, r: { disk: string; snap: string; discardNewer: boolean }): void {
  const { req } = sp;
  const address = `disk.${r.disk}`;
  const desired = req.desired.disks[r.disk];
  const view = viewOf(sp, r.disk);
  const error = (summary: string, detail?: string): void => {
    sp.diagnostics.push({ severity: 'error', summary, address, ...(detail ? { detail } : {}) });
  };
  if (view.state.layers['top'] === undefined && Object.keys(view.state.layers).length === 0)
    return error(`${address} does not exist on ${sp.storage.name}`);
  if (blockedReason(sp, view, address))
    return error(`${address} cannot be rolled back while it is left alone`);
  if (findIntents(view.state).length > 0)
    return error(`${address} has an interrupted operation`, 'Run "lvchain apply" to finish it first.');
  const S = { role: 'snapshot' as const, snap: r.snap };
  if (!layerAt(view.state, S)) {
    const chain = chainOf(view.state);
    const names = chain ? snapshotsOf(chain).map((l) => (l.ref.role === 'snapshot' ? l.ref.snap : '')) : [];
    return error(
      `${address} has no snapshot ${r.snap}`,
      names.length > 0 ? `Its snapshots: ${names.join(', ')}.` : 'It has no snapshots.',
    );
  }
  const newer = layersAbove(view.state, S)
    .filter((l) => l.ref.role === 'snapshot')
    .map((l) => (l.ref.role === 'snapshot' ? l.ref.snap : ''));
  if (newer.length > 0 && !r.discardNewer) {
    return error(
      `${r.snap} is not the newest snapshot of ${r.disk}; newer: ${newer.slice().reverse().join(', ')}`,
      'Rolling back drops them. Pass --discard-newer to drop them without merging (irreversible).',
    );
  }
  const topMeta: LayerMeta = desired
    ? topMetaOf(desired)
    : { ...(layerAt(view.state, TOP)?.meta ?? { disk: r.disk }) };
  delete topMeta.intent;
  const ctx = sp.ctx(r.disk, topMeta);
  sp.add(
    view.state,
    {
      address,
      type: 'lvchain_disk',
      name: r.disk,
      actions: ['delete', 'create'],
      before: { top: 'current data', newer_snapshots: newer },
      after: { top: `empty overlay on ${r.snap}` },
      reason: 'rollback_requested',
      reasonDetail:
        newer.length > 0
          ? `roll back to ${r.snap}, discarding the current top and the newer snapshots ${newer.join(', ')}`
          : `roll back to ${r.snap}, discarding what the top holds since it`,
      irreversible: true,
      operation: { op: 'rollback', snap: r.snap, discard: newer },
      topMeta: ctx.topMeta,
    },
    rollback(view.state, r.snap, ctx, desired?.size),
    ctx,
  );
}
