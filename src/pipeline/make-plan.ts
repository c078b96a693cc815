/**
 * Observe and plan (DESIGN §5), as every command that plans uses it: observe the storages,
 * plan, read more where the plan asks for it, plan again, finalize.
 */
import { randomUUID } from 'node:crypto';
import type { Observed, ObservedStorage } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { planChanges } from '../plan/plan.js';
import type { PlanRequest } from '../plan/request.js';
import { finalizePlan } from '../plan/finalize.js';
import { proxmoxRefusal } from '../plan/proxmox.js';
import { fingerprint } from '../observe/fingerprint.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import type { Session } from './session.js';
import { disksOn } from '../model/on-storage.js';

export async function observeStorages(session: Session, storages?: readonly string[]): Promise<Observed> {
  const names = storages ?? Object.keys(session.desired.storages).sort();
  const results = await Promise.all(
    names.map(async (name): Promise<[string, ObservedStorage]> => {
      const disks = disksOn(session.desired, name);
      const observed = await session.backend(name).observe({ disks: disks.map((d) => d.name) });
      return [name, observed];
    }),
  );
  return { storages: Object.fromEntries(results) };
}

export type PlanOptions = Omit<PlanRequest, 'desired' | 'observed'>;

/** What the user chooses about a full plan, the same for `plan` and `apply`. */
export interface FullPlanChoices {
  allowDestroy: boolean;
  target: string[];
  /** Instead of the clock (`--now`). */
  now?: number;
  mergeDirection: PlanOptions['mergeDirection'];
  allowMassDelete: boolean;
}

export function fullPlanOptions(o: FullPlanChoices, clock: number): PlanOptions {
  return {
    now: o.now ?? clock,
    mode: 'full',
    allowDestroy: o.allowDestroy,
    targets: o.target,
    mergeDirection: o.mergeDirection,
    allowMassDelete: o.allowMassDelete,
  };
}

export async function makePlan(
  session: Session,
  opts: PlanOptions,
): Promise<{ plan: Plan; observed: Observed }> {
  const observed = await observeStorages(session);
  const request: PlanRequest = { desired: session.desired, observed, ...opts };
  let draft = planChanges(request);
  // Read more only where a decision needs it (DESIGN §5): headers of interrupted disks,
  // `qemu-img measure` for the sizes the plan allocates, the allocation of layers that a
  // merge has to choose a direction for, and (LVM) the headers of the images that may be
  // backed by a layer a change merges or removes.
  for (let pass = 0; pass < 3; pass++) {
    const fetches: Promise<void>[] = [];
    // Interrupted operations are resumed from what the headers say.
    for (const [storage, disks] of Object.entries(draft.needHeaders)) {
      if (pass === 0)
        fetches.push(
          session.backend(storage).readHeaders(observed.storages[storage] as ObservedStorage, disks),
        );
    }
    for (const [storage, disks] of Object.entries(draft.needDependants)) {
      fetches.push(
        session.backend(storage).readDependants(observed.storages[storage] as ObservedStorage, disks),
      );
    }
    for (const [storage, sizes] of Object.entries(draft.needMeasure)) {
      fetches.push(session.backend(storage).measure(observed.storages[storage] as ObservedStorage, sizes));
    }
    for (const [storage, wanted] of Object.entries(draft.needExtents)) {
      const obs = observed.storages[storage] as ObservedStorage;
      const unread: Record<string, string[]> = {};
      for (const [disk, names] of Object.entries(wanted)) {
        const layers = obs.disks[disk]?.layers ?? [];
        const missing = names.filter((n) => layers.find((l) => l.name === n)?.extents === undefined);
        if (missing.length > 0) unread[disk] = missing;
      }
      if (Object.keys(unread).length > 0) fetches.push(session.backend(storage).readExtents(obs, unread));
    }
    if (fetches.length === 0) break;
    await Promise.all(fetches);
    draft = planChanges(request);
  }
  const plan = finalizePlan(
    draft,
    {
      lvchainVersion: LVCHAIN_VERSION,
      planId: randomUUID(),
      now: opts.now,
      configPath: session.desired.source,
      configDigest: session.config.digest,
      fingerprint: fingerprint(observed),
      mode: opts.mode,
      allowDestroy: opts.allowDestroy,
      targets: opts.targets,
      mergeDirection: opts.mergeDirection,
      allowMassDelete: opts.allowMassDelete ?? false,
    },
    (storage, disk, step) => session.backend(storage).describe(disk, step),
  );
  const refused = proxmoxRefusal(session.desired, plan);
  if (refused) throw refused;
  return { plan, observed };
}
