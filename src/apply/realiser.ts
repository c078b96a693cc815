/**
 * What realises a step on one storage (DESIGN §10): its storage driver lays layers out, the
 * image engine changes what is inside them. A typed registry says which one realises each step
 * kind, so a new kind without a realiser does not compile.
 */
import type { Executor } from '../exec/executor.js';
import type { DesiredStorage } from '../model/desired.js';
import type { ObservedDisk, ObservedStorage } from '../model/observed.js';
import type { PlannedStep, Step, StepKind } from '../model/plan.js';
import type { EngineStep, ImageEngine } from '../engines/engine.js';
import { offlineEngine } from '../engines/offline/index.js';
import { selectEngines } from '../engines/select.js';
import type { ObserveRequest, StorageDriver } from '../storage/driver.js';
import { DirDriver } from '../storage/dir/index.js';
import { LvmDriver } from '../storage/lvm/index.js';

const REALISED_BY: Record<StepKind, 'storage' | 'engine'> = {
  set_meta: 'storage',
  allocate: 'storage',
  wipe: 'storage',
  extend: 'storage',
  rename: 'storage',
  remove: 'storage',
  create_vg: 'storage',
  format: 'engine',
  resize: 'engine',
  commit: 'engine',
  stream: 'engine',
};

function isEngineStep(step: Step): step is EngineStep {
  return REALISED_BY[step.kind] === 'engine';
}

export class Realiser {
  readonly driver: StorageDriver;
  /** The only engine today; the selector (engines/select.ts) decides whether it may act on a disk. */
  readonly engine: ImageEngine = offlineEngine;

  constructor(driver: StorageDriver) {
    this.driver = driver;
  }

  get location(): string {
    return this.driver.location;
  }

  /** Observe the storage; each disk carries the engine selector's verdict. */
  async observe(request: ObserveRequest): Promise<ObservedStorage> {
    const observed = await this.driver.observe(request);
    selectEngines(Object.values(observed.disks));
    return observed;
  }

  /** Headers may show a layer held open (in use): the verdicts of these disks are made again. */
  async readHeaders(observed: ObservedStorage, disks: readonly string[]): Promise<void> {
    await this.driver.readHeaders(observed, disks);
    selectEngines(disks.flatMap((d) => observed.disks[d] ?? []));
  }

  readDependants(observed: ObservedStorage, disks: readonly string[]): Promise<void> {
    return this.driver.readDependants(observed, disks);
  }

  /** `qemu-img measure` these virtual sizes, into `observed.measurements`. */
  async measure(observed: ObservedStorage, sizes: readonly number[]): Promise<void> {
    Object.assign(observed.measurements, await this.engine.measure(this.driver.exec, sizes));
  }

  /** Read the allocation of these layers (disk → layer names), for merge costs. Read-only. */
  async readExtents(
    observed: ObservedStorage,
    wanted: Readonly<Record<string, readonly string[]>>,
  ): Promise<void> {
    const layers = Object.entries(wanted).flatMap(([disk, names]) =>
      (observed.disks[disk]?.layers ?? [])
        .filter((l) => names.includes(l.name) && this.driver.readable(l))
        .map((layer) => ({ disk, layer })),
    );
    await this.engine.readExtents(this.driver, layers);
  }

  prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    return this.driver.prepareDisk(disk, declared);
  }

  readDiskDependants(disk: ObservedDisk): Promise<void> {
    return this.driver.readDiskDependants(disk);
  }

  releaseDisk(disk: string): Promise<void> {
    return this.driver.releaseDisk(disk);
  }

  layersInUse(disk: ObservedDisk, layers: readonly string[]): Promise<string[]> {
    return this.driver.layersInUse(disk, layers);
  }

  lockTarget(): { exec: Executor; path: string } {
    return this.driver.lockTarget();
  }

  describe(disk: string, step: Step): Pick<PlannedStep, 'description' | 'commands'> {
    return isEngineStep(step)
      ? this.engine.describe(this.driver, disk, step)
      : this.driver.describe(disk, step);
  }

  async execute(disk: string, step: Step, onProgress?: (fraction: number) => void): Promise<void> {
    if (isEngineStep(step)) await this.engine.execute(this.driver, disk, step, onProgress);
    else await this.driver.execute(disk, step, onProgress);
  }
}

export function createRealiser(storage: DesiredStorage, exec: Executor): Realiser {
  switch (storage.kind) {
    case 'dir':
      return new Realiser(new DirDriver(storage, exec));
    case 'lvm':
      return new Realiser(new LvmDriver(storage, exec));
  }
}
