/** Collects the changes of one storage in order, simulating every step. */
import { liveBlocker, liveContext, type LiveContext } from './live.js';
import type { DesiredStorage } from '../model/desired.js';
import type { ObservedStorage } from '../model/observed.js';
import type { Diagnostic, Drift, PlannedOperation, Step } from '../model/plan.js';
import type { LayerMeta } from '../model/meta.js';
import type { DiskState, SimLayer, Sizing } from './state.js';
import { applyStep, childOf, findIntents, layerAt, withSimulatedFigures } from './state.js';
import { shapeOf } from './shape.js';
import { snapRef } from '../model/layer.js';
import type { DiskView } from './interpret.js';
import { dependantConflict, interpretDisk, layersMergedOrRemovedBy } from './interpret.js';
import type { OpContext, OpResult } from './op-steps.js';
import { storageFlags } from './op-steps.js';
import type { SpaceDelta } from './capacity.js';
import { deltaBetween } from './capacity.js';
import type { ChangeSpec, DraftChange, PlanDraft } from './draft.js';
import type { ChangeFacts } from './change.js';
import { draftChange } from './change.js';
import { stepsForOperation } from './recompute.js';
import type { Allowed, PlanRequest } from './request.js';
import { allowedBy } from './request.js';
import { sizingFor } from './sizing.js';
import { declaredWorstCase } from './worst-case.js';
import { proxmoxContext, savedStateOf } from './proxmox.js';

export class StoragePlanner {
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
  readonly allowed: Allowed;
  /** RAM state volumes a planned `qm delsnapshot` frees, counted once however many of the VM's disks plan it. */
  private readonly freedStates = new Set<string>();

  constructor(
    readonly req: PlanRequest,
    readonly storage: DesiredStorage,
    readonly observed: ObservedStorage,
  ) {
    this.sizing = sizingFor(observed, this.needMeasure);
    this.allowed = allowedBy(req);
  }

  /** The disk's running VM, when it holds the disk: the live engine then does its changes. */
  liveOf(disk: string): LiveContext | undefined {
    return liveContext(this.observed.disks[disk]?.engine);
  }

  ctx(disk: string, topMeta: LayerMeta, policy?: string): OpContext {
    const c: OpContext = {
      sizing: this.sizing,
      ...storageFlags(this.storage),
      topMeta: { ...topMeta, disk },
    };
    if (policy !== undefined) c.policy = policy;
    const live = this.liveOf(disk);
    if (live) c.live = live;
    const proxmox = proxmoxContext(this.observed.disks[disk]?.engine);
    if (proxmox) c.proxmox = proxmox;
    return c;
  }

  /** Plan `op` on a disk: its steps from the disk's state, simulated and recorded as one change. */
  plan(
    state: DiskState,
    op: PlannedOperation,
    facts: Omit<ChangeFacts, 'topMeta'>,
    ctx: OpContext,
    fallbackSize?: number,
  ): DiskState | undefined {
    const change = draftChange(op, state.disk, { ...facts, topMeta: ctx.topMeta });
    const notLive = ctx.live ? liveBlocker(op, state, ctx.live) : undefined;
    if (notLive !== undefined) {
      const verdict = this.observed.disks[state.disk]?.engine;
      const socket =
        verdict?.kind === 'engine' && verdict.engine === 'qmp' ? verdict.socket : 'its QMP socket';
      this.diagnostics.push({
        severity: 'warning',
        summary: `${change.address} is left alone: disk ${state.disk} is in use by its running VM (${socket}); ${notLive}`,
        address: change.address,
      });
      return undefined;
    }
    return this.add(state, change, stepsForOperation(op, state, ctx, fallbackSize), ctx);
  }

  /** Simulate and record a change; returns the state after it, or undefined if the steps are inconsistent. */
  add(state: DiskState, change: ChangeSpec, result: OpResult, ctx: OpContext): DiskState | undefined {
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
        deltas.push(this.withFreedState(deltaBetween(cur, next), state.disk, step));
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
      steps: withSimulatedFigures(state, result.steps, ctx.sizing),
    });
    return cur;
  }

  /** `qm delsnapshot` also frees the snapshot's RAM state, when it is an LV of this VG. */
  private withFreedState(delta: SpaceDelta, disk: string, step: Step): SpaceDelta {
    if (step.kind !== 'qm' || step.qm.action !== 'delsnapshot') return delta;
    const saved = savedStateOf(this.observed, disk, step.vmid, step.qm.snap);
    if (saved?.bytes === undefined || this.freedStates.has(saved.volume)) return delta;
    this.freedStates.add(saved.volume);
    return { bytes: delta.bytes - saved.bytes, lvs: delta.lvs - 1 };
  }

  /** The space deltas of the kept changes only, in plan order. */
  deltasOf(kept: Set<DraftChange>): SpaceDelta[] {
    const out: SpaceDelta[] = [];
    let i = 0;
    for (const c of this.changes) {
      const n = c.steps.length;
      if (kept.has(c)) out.push(...this.deltas.slice(i, i + n));
      i += n;
    }
    return out;
  }

  /**
   * Existing LVs give their real size, so a plan measures only the sizes of disks it creates or
   * grows (it measures those anyway).
   */
  worstCase(): number | null {
    return declaredWorstCase(this.req.desired, this.storage.name, (d) => {
      const top = this.observed.disks[d.name]?.layers.find((l) => l.ref.role === 'top');
      const current = top?.capacity !== undefined && top.meta?.size === d.size ? top.capacity : undefined;
      return current ?? this.sizing.capacityFor?.(d.size) ?? this.sizing.fullyAllocated(d.size);
    });
  }

  viewOf(name: string): DiskView {
    const obs = this.observed.disks[name] ?? { name, storage: this.storage.name, layers: [] };
    const view = interpretDisk(obs, this.sizing);
    // Resuming is a decision that needs the headers: read them for this disk (active LVs only).
    const unusual = findIntents(view.state).length > 0 || obs.layers.some((l) => l.ref.role === 'trash');
    if (unusual && obs.layers.some((l) => l.header.state === 'not-read' && l.lv?.active))
      this.needHeaders.add(name);
    return view;
  }

  /**
   * Ask for the allocation of the layers a merge of `snap` involves: the snapshot and its child,
   * under the names they had when observed (an earlier step of this plan may have renamed them),
   * and any layer an earlier merge of this plan folded into them (it is no longer in the
   * simulated state). Reading only these keeps a deep chain's plan from mapping every layer.
   */
  needExtentsFor(state: DiskState, snap: string): void {
    const S = snapRef(snap);
    const involved = [layerAt(state, S), childOf(state, S)].filter((l): l is SimLayer => l !== undefined);
    if (!involved.some((l) => l.formatted && l.extents === undefined)) return;
    const wanted = new Set(involved.map((l) => l.origin));
    const live = new Set(Object.values(state.layers).map((l) => l.origin));
    const names = this.needExtents.get(state.disk) ?? new Set<string>();
    for (const l of this.observed.disks[state.disk]?.layers ?? []) {
      if (wanted.has(l.name) || !live.has(l.name)) names.add(l.name);
    }
    this.needExtents.set(state.disk, names);
  }
}

/** What the storages' planners found they need read before the plan can be final. */
export function needsOf(
  planners: readonly StoragePlanner[],
): Pick<PlanDraft, 'needExtents' | 'needMeasure' | 'needHeaders' | 'needDependants'> {
  const needExtents: Record<string, Record<string, string[]>> = {};
  const needMeasure: Record<string, number[]> = {};
  const needHeaders: Record<string, string[]> = {};
  const needDependants: Record<string, string[]> = {};
  for (const sp of planners) {
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
  return { needExtents, needMeasure, needHeaders, needDependants };
}
