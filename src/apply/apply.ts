/**
 * Executes a plan's changes through the storage drivers and image engines (DESIGN §5, §6).
 * Before a change touches a disk, the disk is observed again; the change runs only if the disk
 * is still as planned and no other process holds it. A failure skips the rest of that disk and
 * of its guest group; other disks go on.
 */
import type { Plan, PlannedOperation, ResourceChange, Step } from '../model/plan.js';
import { liveBlocker, liveContext } from '../plan/live.js';
import { proxmoxContext, proxmoxLockText } from '../plan/proxmox.js';
import type { Observed, ObservedStorage } from '../model/observed.js';
import type { Desired } from '../model/desired.js';
import type { Realiser } from './realiser.js';
import { measureChainSizes } from './measure-chain.js';
import { selectEngine } from '../engines/select.js';
import { dependantConflict, interpretDisk, layersMergedOrRemovedBy } from '../plan/interpret.js';
import { layersChangedBy, withSimulatedFigures } from '../plan/state.js';
import { shapeHasUnknowns, shapeMatches, shapeOf } from '../plan/shape.js';
import { sameRef } from '../model/layer.js';
import { sizingFor } from '../plan/sizing.js';
import { sameSteps, stepsForOperation } from '../plan/recompute.js';
import { storageFlags, type OpContext } from '../plan/op-steps.js';
import { runHook } from './hooks.js';
import { leadingIntentSteps, runSwitch, type Prepared } from './group-steps.js';
import { disksOn } from '../model/on-storage.js';
import { LvchainError, isLvchainError } from '../base/errors.js';
import type { ApplyHook, ApplyOutcome } from '../model/events.js';
import { recheckAdoption } from './adopt.js';
import { plannedBlind, withFigures } from './blind-merge.js';

export interface ApplyContext {
  desired: Desired;
  /** A fresh observation of the storages, for sizing (extent size, measurements). */
  observed: Observed;
  backend: (storage: string) => Realiser;
  onEvent: ApplyHook;
  /** Checked between steps: stop cleanly after the step in flight (Ctrl-C). */
  signal?: AbortSignal;
}

export async function applyPlan(
  plan: Pick<Plan, 'resource_changes'>,
  ctx: ApplyContext,
): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = { applied: [], failed: [], skipped: [], interrupted: false };
  const byStorage = new Map<string, ResourceChange[]>();
  for (const c of plan.resource_changes) {
    const list = byStorage.get(c.storage) ?? [];
    list.push(c);
    byStorage.set(c.storage, list);
  }
  // Storages are independent: they run side by side; inside one, changes run in plan order.
  await Promise.all(
    [...byStorage.entries()].map(async ([storage, changes]) => {
      await applyStorage(storage, changes, ctx, outcome);
      // Only the time estimates of later plans depend on the record: a failure is a warning.
      const unrecorded = await ctx.backend(storage).recordMerges();
      if (unrecorded !== undefined)
        ctx.onEvent({
          type: 'apply_warning',
          address: storage,
          message: `the merge times of this run were not recorded (${unrecorded}); later plans estimate from older ones`,
        });
    }),
  );
  return outcome;
}

async function applyStorage(
  storage: string,
  changes: ResourceChange[],
  ctx: ApplyContext,
  outcome: ApplyOutcome,
): Promise<void> {
  const backend = ctx.backend(storage);
  const observedStorage = ctx.observed.storages[storage];
  const failedDisks = new Set<string>();
  const failedGroups = new Set<string>();
  let i = 0;
  while (i < changes.length) {
    // A guest's snapshot changes run as one batch: every intent is recorded before any
    // disk's top is renamed, so an interruption leaves each disk resumable.
    const first = changes[i] as ResourceChange;
    const batch = [first];
    while (first.group !== undefined && changes[i + batch.length]?.group === first.group)
      batch.push(changes[i + batch.length] as ResourceChange);
    i += batch.length;
    if (ctx.signal?.aborted) {
      for (const c of batch) outcome.skipped.push({ address: c.address, reason: 'interrupted' });
      outcome.interrupted = true;
      continue;
    }
    const blocked = batch.find(
      (c) => failedDisks.has(c.disk) || (c.group !== undefined && failedGroups.has(c.group)),
    );
    if (blocked) {
      for (const c of batch) {
        const reason = `an earlier change of ${failedDisks.has(c.disk) ? c.disk : c.group} failed`;
        outcome.skipped.push({ address: c.address, reason });
        ctx.onEvent({ type: 'change_skipped', address: c.address, reason });
      }
      continue;
    }
    if (first.operation.op === 'create_vg') {
      // Storage-level: there is no disk to re-observe; the backend checks the devices again.
      ctx.onEvent({ type: 'apply_start', address: first.address, actions: first.change.actions });
      const t0 = performance.now();
      try {
        for (const [s, { step, description }] of first.x_steps.entries()) {
          ctx.onEvent({
            type: 'step_start',
            address: first.address,
            index: s,
            count: first.x_steps.length,
            kind: step.kind,
            description,
          });
          await backend.execute(first.disk, step);
          ctx.onEvent({
            type: 'step_complete',
            address: first.address,
            index: s,
            kind: step.kind,
            elapsed_ms: Math.round(performance.now() - t0),
          });
        }
        outcome.applied.push(first.address);
        ctx.onEvent({
          type: 'apply_complete',
          address: first.address,
          elapsed_ms: Math.round(performance.now() - t0),
        });
      } catch (e) {
        fail(first, e, ctx, outcome, failedDisks, failedGroups);
        for (const c of changes.slice(i))
          outcome.skipped.push({ address: c.address, reason: 'the volume group could not be created' });
        return;
      }
      continue;
    }
    const hooks = batch.find((c) => c.x_hooks !== undefined)?.x_hooks;
    // The post-hook runs whenever the pre-hook ran, even when it or the snapshot failed: a pre-hook
    // may have frozen part of what it meant to.
    const postHook = async (): Promise<void> => {
      const failed = hooks ? await runHook(backend.driver.exec, hooks, 'post') : undefined;
      if (failed === undefined) return;
      const address = `${first.group ?? first.address} (post-snapshot hook)`;
      outcome.failed.push({ address, message: failed });
      ctx.onEvent({ type: 'apply_errored', address, message: failed, code: 'hook_failed' });
    };
    const hookFailed = hooks ? await runHook(backend.driver.exec, hooks, 'pre') : undefined;
    if (hookFailed !== undefined) {
      for (const c of batch)
        fail(
          c,
          new LvchainError('hook_failed', `${hookFailed}; the snapshot is skipped`),
          ctx,
          outcome,
          failedDisks,
          failedGroups,
        );
      await postHook();
      continue;
    }
    const prepared: Prepared[] = [];
    let ok = true;
    for (const change of batch) {
      ctx.onEvent({ type: 'apply_start', address: change.address, actions: change.change.actions });
      try {
        prepared.push({ change, steps: await prepare(change, backend, observedStorage, ctx) });
      } catch (e) {
        fail(change, e, ctx, outcome, failedDisks, failedGroups);
        ok = false;
        break;
      }
    }
    if (!ok) {
      for (const c of batch.slice(prepared.length + 1))
        outcome.skipped.push({ address: c.address, reason: 'a change of the same group failed' });
      for (const p of prepared) {
        outcome.skipped.push({ address: p.change.address, reason: 'a change of the same group failed' });
        await backend.releaseDisk(p.change.disk).catch(() => undefined);
      }
      await postHook();
      continue;
    }
    const started = new Map<string, number>();
    const runFrom = async (p: Prepared, from: number, to: number): Promise<void> => {
      for (let s = from; s < to; s++) {
        if (ctx.signal?.aborted) throw new LvchainError('aborted', abortMessage(ctx.signal));
        const step = p.steps[s] as Step;
        const t0 = performance.now();
        ctx.onEvent({
          type: 'step_start',
          address: p.change.address,
          index: s,
          count: p.steps.length,
          kind: step.kind,
          description: backend.describe(p.change.disk, step).description,
        });
        await backend.execute(p.change.disk, step, (fraction) =>
          ctx.onEvent({ type: 'step_progress', address: p.change.address, index: s, fraction }),
        );
        ctx.onEvent({
          type: 'step_complete',
          address: p.change.address,
          index: s,
          kind: step.kind,
          elapsed_ms: Math.round(performance.now() - t0),
        });
      }
    };
    const done = new Set<Prepared>();
    try {
      // freeze: required is checked before anything changes.
      for (const p of prepared)
        if (p.steps.some((s) => s.kind === 'switch')) await backend.checkFreeze(p.change.disk);
      // In a group, every disk's intent is recorded before any disk changes.
      const head = (p: Prepared) => (batch.length > 1 ? leadingIntentSteps(p.steps) : 0);
      for (const p of prepared) {
        started.set(p.change.address, performance.now());
        await runFrom(p, 0, head(p));
      }
      // A running VM switches all the guest's disks in one transaction: every disk's steps run
      // up to its switch, then the switch of all, then the rest.
      const switchAt = (p: Prepared) => p.steps.findIndex((s) => s.kind === 'switch');
      const live = prepared.filter((p) => switchAt(p) >= 0);
      for (const p of live) await runFrom(p, head(p), switchAt(p));
      if (live.length > 0) await runSwitch(live, switchAt, backend, ctx);
      for (const p of prepared) {
        await runFrom(p, live.includes(p) ? switchAt(p) + 1 : head(p), p.steps.length);
        done.add(p);
        outcome.applied.push(p.change.address);
        ctx.onEvent({
          type: 'apply_complete',
          address: p.change.address,
          elapsed_ms: Math.round(performance.now() - (started.get(p.change.address) ?? 0)),
        });
      }
    } catch (e) {
      const current = prepared.find((p) => !done.has(p)) as Prepared;
      if (isLvchainError(e) && e.code === 'aborted') outcome.interrupted = true;
      fail(current.change, e, ctx, outcome, failedDisks, failedGroups);
      for (const p of prepared)
        if (!done.has(p) && p !== current)
          outcome.skipped.push({ address: p.change.address, reason: 'a change of the same group failed' });
    } finally {
      for (const p of prepared) await backend.releaseDisk(p.change.disk).catch(() => undefined);
    }
    await postHook();
  }
}

function fail(
  change: ResourceChange,
  e: unknown,
  ctx: ApplyContext,
  outcome: ApplyOutcome,
  failedDisks: Set<string>,
  failedGroups: Set<string>,
): void {
  const message = e instanceof Error ? e.message : String(e);
  const code = isLvchainError(e) ? e.code : 'internal';
  failedDisks.add(change.disk);
  if (change.group !== undefined) failedGroups.add(change.group);
  outcome.failed.push({ address: change.address, message });
  const hints = isLvchainError(e) && e.hints.length > 0 ? { hints: e.hints } : {};
  ctx.onEvent({ type: 'apply_errored', address: change.address, message, code, ...hints });
}

/** Re-observe the disk and confirm the change still applies; returns the steps to run. */
async function prepare(
  change: ResourceChange,
  backend: Realiser,
  storage: ObservedStorage | undefined,
  ctx: ApplyContext,
): Promise<Step[]> {
  if (!storage)
    throw new LvchainError('plan_stale', `storage ${change.storage} was not observed before applying`);
  const declared = disksOn(ctx.desired, change.storage).map((d) => d.name);
  const observed = await backend.prepareDisk(change.disk, declared);
  await measureChainSizes(
    backend,
    storage,
    observed,
    change.x_steps.flatMap(({ step }) =>
      step.kind === 'allocate' || step.kind === 'extend' ? [step.virtual_size] : [],
    ),
  );
  // A plan made from an inactive chain knew no merge's bytes: read them now that it is active.
  const blind = plannedBlind(change);
  if (blind) await backend.readDiskExtents(observed);
  const sizing = sizingFor(storage);
  if (change.operation.op === 'adopt' || change.operation.op === 'rederive')
    return recheckAdoption(change, observed, sizing, ctx.desired);
  const view = interpretDisk(observed, sizing);
  const expectsIntent = change.operation.op === 'resume';
  const problems = view.problems.filter((p) => !(expectsIntent && p.code === 'incomplete_without_intent'));
  if (problems.length > 0) {
    throw new LvchainError('drift', `${problems[0]?.message}; the disk is left alone`);
  }
  const shape = shapeMatches(change.expected_shape, shapeOf(view.state));
  if (!shape.ok) {
    throw new LvchainError(
      'plan_stale',
      `the disk changed since the plan (${shape.why}); nothing was done to it. Run "lvchain plan" again.`,
    );
  }
  // A disk that declares a VM is judged by who holds it now: its VM's QEMU, nobody, or a stranger.
  const live = backend.declaresVm(change.disk) ? await backend.judge(observed) : undefined;
  if (live?.kind === 'refused')
    throw new LvchainError('image_in_use', `${live.holders.join('; ')}. Nothing was done.`);
  const locked = proxmoxLockText(live);
  if (locked !== undefined) throw new LvchainError('vm_failed', `${locked}. Nothing was done.`);
  const liveCtx = liveContext(live);
  const proxmoxCtx = proxmoxContext(live);
  const opCtx: OpContext = {
    sizing,
    ...storageFlags(ctx.desired.storages[change.storage]),
    topMeta: change.x_top_meta,
    ...(change.x_policy !== undefined ? { policy: change.x_policy } : {}),
    ...(liveCtx ? { live: liveCtx } : {}),
    ...(proxmoxCtx ? { proxmox: proxmoxCtx } : {}),
  };
  const notLive = opCtx.live
    ? liveBlocker(change.operation as PlannedOperation, view.state, opCtx.live)
    : undefined;
  if (notLive !== undefined)
    throw new LvchainError(
      'image_in_use',
      `disk ${change.disk} is in use by its running VM; ${notLive}. Nothing was done.`,
    );
  const planned = change.x_steps.map((s) => s.step);
  const computed = stepsForOperation(
    blind ? withFigures(change.operation, view.state, opCtx) : (change.operation as PlannedOperation),
    view.state,
    opCtx,
    ctx.desired.disks[change.disk]?.size,
  );
  const result = computed.ok
    ? { ok: true as const, steps: withSimulatedFigures(view.state, computed.steps, sizing) }
    : computed;
  if (!result.ok)
    throw new LvchainError('plan_stale', `the change can no longer be applied: ${result.reason}`);
  // Only a merge or a removal can break an image that uses a layer as its backing: reading
  // every image of the storage costs a header read each, so other changes skip it.
  if (layersMergedOrRemovedBy(result.steps).length > 0) await backend.readDiskDependants(observed);
  const conflict = dependantConflict(view.state, result.steps, observed);
  if (conflict !== undefined) throw new LvchainError('drift', `${conflict}. Nothing was done.`);
  // A running VM writes only its top and holds the backing layers for reading, which image
  // locks allow: the top is checked whenever anything existing changes.
  const changed = layersChangedBy(result.steps);
  const checked =
    changed.length === 0
      ? []
      : observed.layers
          .filter((l) => l.ref.role === 'top' || changed.some((r) => sameRef(r, l.ref)))
          .map((l) => l.name);
  const verdict =
    live ?? selectEngine(checked.length > 0 ? await backend.layersInUse(observed, checked) : []);
  if (verdict.kind === 'refused') {
    const inUse = verdict.holders;
    throw new LvchainError(
      'image_in_use',
      `${inUse.join(', ')} ${inUse.length > 1 ? 'are' : 'is'} in use by another process (a running VM?); lvchain changes disks offline only. Nothing was done.`,
    );
  }
  if (!sameSteps(planned, result.steps)) {
    if (view.verified && !shapeHasUnknowns(change.expected_shape)) {
      throw new LvchainError(
        'plan_stale',
        `the steps needed now differ from the planned ones; the disk changed since the plan. Run "lvchain plan" again.`,
      );
    }
    // The plan was made without the headers (inactive LVs); what was read now decides.
    ctx.onEvent({
      type: 'steps_adjusted',
      address: change.address,
      reason: 'the chain was verified after activation; steps recomputed',
    });
  }
  // Keep the planned byte estimates for display; the structure is identical. A blind plan had
  // none: the bytes read now count, also in the storage's record of merge times.
  return sameSteps(planned, result.steps) && !blind ? planned : result.steps;
}

/** Why a run stopped early: a lost lock says so; Ctrl-C needs no explanation. */
function abortMessage(signal: AbortSignal): string {
  const why = typeof signal.reason === 'string' ? signal.reason : 'interrupted';
  return `${why}; run "lvchain apply" again to resume`;
}
