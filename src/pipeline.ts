/**
 * The pipeline of DESIGN §5, as the commands use it: load and validate the config, build one
 * executor per host and one backend per storage, observe, plan, finalize.
 */
import { randomUUID } from 'node:crypto';
import type { Desired } from './model/desired.js';
import type { Observed, ObservedStorage } from './model/observed.js';
import type { Plan } from './model/plan.js';
import type { Realiser } from './apply/realiser.js';
import { createRealiser } from './apply/realiser.js';
import type { CommandEvent, Executor } from './exec/executor.js';
import { LocalExecutor } from './exec/local.js';
import { SshExecutor } from './exec/ssh.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import { planChanges, type PlanRequest } from './plan/plan.js';
import { finalizePlan } from './plan/finalize.js';
import { fingerprint } from './observe/fingerprint.js';
import { LVCHAIN_VERSION } from './version.js';
import { LvchainError } from './errors.js';

export interface SessionOptions {
  /** Told about every command run, on any host (`--command-log`). */
  onCommand?: (e: CommandEvent) => void;
}

export class Session {
  readonly config: LoadedConfig;
  private readonly executors = new Map<string, Executor>();
  private readonly backends = new Map<string, Realiser>();
  private readonly listeners: ((e: CommandEvent) => void)[];

  private constructor(config: LoadedConfig, opts: SessionOptions) {
    this.config = config;
    this.listeners = opts.onCommand ? [opts.onCommand] : [];
  }

  static async open(configPath: string, opts: SessionOptions = {}): Promise<Session> {
    return new Session(await loadConfigFile(configPath), opts);
  }

  get desired(): Desired {
    return this.config.desired;
  }

  executor(host: string | undefined): Executor {
    const key = host ?? 'local';
    let exec = this.executors.get(key);
    if (!exec) {
      if (host === undefined) exec = new LocalExecutor(this.listeners);
      else {
        const h = this.desired.hosts[host];
        if (!h) throw new LvchainError('not_found', `no host named ${host} in ${this.desired.source}`);
        exec = new SshExecutor(h.ssh, this.listeners);
      }
      this.executors.set(key, exec);
    }
    return exec;
  }

  backend(storage: string): Realiser {
    let b = this.backends.get(storage);
    if (!b) {
      const s = this.desired.storages[storage];
      if (!s) throw new LvchainError('not_found', `no storage named ${storage} in ${this.desired.source}`);
      b = createRealiser(s, this.executor(s.kind === 'lvm' ? s.host : undefined));
      this.backends.set(storage, b);
    }
    return b;
  }

  async close(): Promise<void> {
    await Promise.all([...this.executors.values()].map((e) => e.close()));
  }
}

export async function observeStorages(session: Session, storages?: readonly string[]): Promise<Observed> {
  const names = storages ?? Object.keys(session.desired.storages).sort();
  const results = await Promise.all(
    names.map(async (name): Promise<[string, ObservedStorage]> => {
      const disks = Object.values(session.desired.disks).filter((d) => d.storage === name);
      const observed = await session.backend(name).observe({ disks: disks.map((d) => d.name) });
      return [name, observed];
    }),
  );
  return { storages: Object.fromEntries(results) };
}

export type PlanOptions = Omit<PlanRequest, 'desired' | 'observed'>;

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
  return { plan, observed };
}
