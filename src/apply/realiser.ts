/**
 * What realises a step on one storage (DESIGN §10): its storage driver lays layers out, the
 * image engine changes what is inside them. A typed registry says which one realises each step
 * kind, so a new kind without a realiser does not compile.
 */
import type { Executor } from '../exec/executor.js';
import type { DesiredStorage, DesiredVm } from '../model/desired.js';
import { LvchainError } from '../base/errors.js';
import {
  agentReady,
  describeStream,
  describeSwitch,
  streamLive,
  switchDisks,
  type SwitchEntry,
} from '../engines/qmp/index.js';
import type { Consistency } from '../model/meta.js';
import type { EngineVerdict, ObservedDisk, ObservedStorage } from '../model/observed.js';
import type { PlannedStep, Step, StepKind } from '../model/plan.js';
import { isMergeStep } from '../model/step-kinds.js';
import { describeResize, resizeLive } from '../engines/qmp/resize.js';
import { commitLive, describeCommit } from '../engines/qmp/commit.js';
import { describeReattach, reattachLive } from '../engines/qmp/rename.js';
import type { EngineStep, ImageEngine } from '../engines/engine.js';
import { offlineEngine } from '../engines/offline/index.js';
import { judgeLive, judgeProxmox, selectEngines } from '../engines/select.js';
import { describeQm, runQm, type ProxmoxVms } from '../engines/proxmox/qm.js';
import type { ObserveRequest, StorageDriver, StorageStep } from '../storage/driver.js';
import { DirDriver } from '../storage/dir/index.js';
import type { ProxmoxStorageLock } from '../storage/proxmox/cluster-lock.js';
import type { VmPlacements } from '../storage/proxmox/placement.js';
import { LvmDriver } from '../storage/lvm/index.js';
import { isSample, type MergeSample } from '../model/merge-history.js';

const REALISED_BY: Record<StepKind, 'storage' | 'engine' | 'vm'> = {
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
  switch: 'vm',
  reattach: 'vm',
  qm: 'vm',
};

function isEngineStep(step: Step): step is EngineStep {
  return REALISED_BY[step.kind] === 'engine';
}

function isStorageStep(step: Step): step is StorageStep {
  return REALISED_BY[step.kind] === 'storage';
}

export class Realiser {
  readonly driver: StorageDriver;
  /** The only engine today; the selector (engines/select.ts) decides whether it may act on a disk. */
  readonly engine: ImageEngine = offlineEngine;

  constructor(
    driver: StorageDriver,
    /** The VM each disk declares (`vm:` of its guest or itself). */
    private readonly vms: Readonly<Record<string, DesiredVm>> = {},
    /** The Proxmox VE VM each disk belongs to (`vm: { proxmox }`), and how its node is reached. */
    private readonly proxmox?: ProxmoxVms,
  ) {
    this.driver = driver;
  }

  /** Disks whose last verdict was the live engine: their data moves go through QEMU. */
  private readonly live = new Set<string>();
  /** Disks whose switch in this run froze the guest's file systems. */
  private readonly frozen = new Set<string>();

  /** Each disk's last verdict. */
  private readonly verdicts = new Map<string, EngineVerdict>();

  private judged(disks: readonly ObservedDisk[]): void {
    for (const d of disks) {
      if (d.engine) this.verdicts.set(d.name, d.engine);
      if (d.engine?.kind === 'engine' && d.engine.engine === 'qmp') this.live.add(d.name);
      else this.live.delete(d.name);
    }
  }

  get location(): string {
    return this.driver.location;
  }

  /** Observe the storage; each disk carries the engine selector's verdict. */
  async observe(request: ObserveRequest): Promise<ObservedStorage> {
    const observed = await this.driver.observe(request);
    selectEngines(Object.values(observed.disks));
    await judgeLive(this.driver, Object.values(observed.disks), this.vms);
    judgeProxmox(Object.values(observed.disks), this.proxmox?.vmids ?? {});
    this.judged(Object.values(observed.disks));
    return observed;
  }

  /** Headers may show a layer held open (in use): the verdicts of these disks are made again. */
  async readHeaders(observed: ObservedStorage, disks: readonly string[]): Promise<void> {
    await this.driver.readHeaders(observed, disks);
    const judged = disks.flatMap((d) => observed.disks[d] ?? []);
    selectEngines(judged);
    await judgeLive(this.driver, judged, this.vms);
    judgeProxmox(judged, this.proxmox?.vmids ?? {});
    this.judged(judged);
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

  /** Read the allocation of every readable layer of a prepared disk, for what its merge copies. */
  readDiskExtents(disk: ObservedDisk): Promise<void> {
    const layers = disk.layers
      .filter((l) => this.driver.readable(l))
      .map((layer) => ({ disk: disk.name, layer }));
    return this.engine.readExtents(this.driver, layers);
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

  /** Whether this disk declares a VM: its verdict then comes from who holds it, or from Proxmox. */
  declaresVm(disk: string): boolean {
    return this.vms[disk] !== undefined || this.proxmox?.vmids[disk] !== undefined;
  }

  /** The verdict on a disk that declares a VM, from who holds its layers now, or where its Proxmox VM is. */
  async judge(disk: ObservedDisk): Promise<EngineVerdict> {
    await judgeLive(this.driver, [disk], this.vms);
    judgeProxmox([disk], this.proxmox?.vmids ?? {});
    this.judged([disk]);
    return disk.engine ?? { kind: 'engine', engine: 'offline' };
  }

  lockTarget(): { exec: Executor; path: string } {
    return this.driver.lockTarget();
  }

  describe(disk: string, step: Step): Pick<PlannedStep, 'description' | 'commands'> {
    if (step.kind === 'stream' && this.live.has(disk))
      return describeStream(this.driver, this.vmOf(disk), disk, step);
    if (step.kind === 'resize' && this.live.has(disk))
      return describeResize(this.driver, this.vmOf(disk), disk, step);
    if (step.kind === 'commit' && this.live.has(disk))
      return describeCommit(this.driver, this.vmOf(disk), disk, step);
    if (step.kind === 'rename' && this.reattaches(disk, step)) {
      const d = this.driver.describe(disk, step);
      return {
        description: `${d.description}, and the running VM's node onto the new name`,
        commands: [
          ...d.commands,
          ...describeReattach(this.driver, this.vmOf(disk), disk, step.from, step.to),
        ],
      };
    }
    if (step.kind === 'reattach')
      return {
        description: `move the running VM's node of ${this.driver.name(disk, step.was)} onto ${this.driver.name(disk, step.layer)}, if an earlier run did not`,
        commands: describeReattach(this.driver, this.vmOf(disk), disk, step.was, step.layer),
      };
    if (isEngineStep(step)) return this.engine.describe(this.driver, disk, step);
    if (isStorageStep(step)) return this.driver.describe(disk, step);
    if (step.kind === 'qm') return describeQm(step);
    return describeSwitch(this.driver, this.vmOf(disk), disk, step);
  }

  /** Merges this run finished at full speed, for the storage's record (recordMerges). */
  private readonly merges: MergeSample[] = [];

  /** Any step but a switch, which runs for a whole guest at once (switchGroup). */
  async execute(disk: string, step: Step, onProgress?: (fraction: number) => void): Promise<void> {
    const t0 = performance.now();
    await this.executeStep(disk, step, onProgress);
    // A merge held to the storage's mergeRate says nothing about what the storage can do.
    if (isMergeStep(step) && step.rate === undefined)
      this.merges.push({ bytes: step.bytes, ms: Math.round(performance.now() - t0) });
  }

  /** Add this run's merges to the storage's record; says why when it could not. */
  async recordMerges(): Promise<string | undefined> {
    const samples = this.merges.splice(0).filter(isSample);
    if (samples.length === 0) return undefined;
    try {
      await this.driver.recordMerges(samples);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  private async executeStep(
    disk: string,
    step: Step,
    onProgress?: (fraction: number) => void,
  ): Promise<void> {
    if (step.kind === 'stream' && this.live.has(disk))
      await streamLive(this.driver, this.vmOf(disk), disk, step, onProgress);
    else if (step.kind === 'resize' && this.live.has(disk))
      await resizeLive(this.driver, this.vmOf(disk), disk, step);
    else if (step.kind === 'commit' && this.live.has(disk)) {
      const pivot = step.pivot;
      const recordPivot = async () => {
        if (pivot)
          await this.driver.execute(disk, {
            kind: 'set_meta',
            layer: step.into,
            meta: pivot,
            from: { ...pivot, pivoted: false },
            purpose: 'update',
          });
      };
      await commitLive(this.driver, this.vmOf(disk), disk, step, recordPivot, onProgress);
    } else if (step.kind === 'rename' && this.reattaches(disk, step)) {
      await this.driver.execute(disk, step, onProgress);
      await reattachLive(this.driver, this.vmOf(disk), disk, step.from, step.to);
    } else if (step.kind === 'qm') {
      const verdict = this.verdicts.get(disk);
      const here = verdict?.kind === 'engine' && verdict.engine === 'proxmox' && verdict.here;
      await runQm(
        step,
        here ? this.driver.exec : this.proxmox?.reach(step.node),
        this.proxmox?.done ?? new Set(),
      );
    } else if (step.kind === 'reattach') {
      // Planned only for a disk a running VM holds; if it stopped since, no node is left to move.
      if (this.live.has(disk)) await reattachLive(this.driver, this.vmOf(disk), disk, step.was, step.layer);
    } else if (step.kind === 'set_meta' && step.meta.consistency === 'crash' && this.frozen.has(disk))
      // The plan can only promise crash consistency (a resume cannot know whether an earlier
      // run froze the guest); the freeze of this run's switch is what makes it `fs`.
      await this.driver.execute(disk, { ...step, meta: { ...step.meta, consistency: 'fs' } }, onProgress);
    else if (isEngineStep(step)) await this.engine.execute(this.driver, disk, step, onProgress);
    else if (isStorageStep(step)) await this.driver.execute(disk, step, onProgress);
    else
      throw new LvchainError(
        'apply_failed',
        `internal: the switch of disk ${disk} runs with its guest's, through switchGroup`,
      );
  }

  /** The disks of one VM onto their new tops, in one transaction; returns how consistent. */
  async switchGroup(entries: readonly SwitchEntry[], warn: (message: string) => void): Promise<Consistency> {
    const first = entries[0];
    if (first === undefined) return 'crash';
    const consistency = await switchDisks(this.driver, this.vmOf(first.disk), entries, warn);
    for (const e of entries)
      if (consistency === 'fs') this.frozen.add(e.disk);
      else this.frozen.delete(e.disk);
    return consistency;
  }

  /**
   * A layer renamed under a running VM needs QEMU's node moved onto the new name; the top's
   * rename before a switch is not one (the switch makes the new node itself).
   */
  private reattaches(disk: string, step: Step): step is Extract<Step, { kind: 'rename' }> {
    return step.kind === 'rename' && step.from.role !== 'top' && this.live.has(disk);
  }

  /** Before a live snapshot changes anything: `freeze: required` needs an agent that answers. */
  async checkFreeze(disk: string): Promise<void> {
    const vm = this.vmOf(disk);
    if (vm.freeze !== 'required') return;
    const ready = await agentReady(this.driver.exec, vm);
    if (!ready.ok)
      throw new LvchainError(
        'vm_failed',
        `disk ${disk}: freeze: required, but the guest agent does not answer (${ready.why}); nothing was done`,
        { details: { disk, agent: vm.agent } },
      );
  }

  vmOf(disk: string): DesiredVm {
    const vm = this.vms[disk];
    if (vm === undefined)
      throw new LvchainError(
        'vm_failed',
        `disk ${disk} declares no vm: lvchain cannot reach a running VM for it`,
      );
    return vm;
  }
}

export function createRealiser(
  storage: DesiredStorage,
  exec: Executor,
  vms: Readonly<Record<string, DesiredVm>> = {},
  clusterLock?: ProxmoxStorageLock,
  placements?: VmPlacements,
  proxmox?: ProxmoxVms,
): Realiser {
  switch (storage.kind) {
    case 'dir':
      return new Realiser(new DirDriver(storage, exec), vms);
    case 'lvm':
      return new Realiser(new LvmDriver(storage, exec, clusterLock, placements), vms, proxmox);
  }
}
