/**
 * Thick LVM volume groups (DESIGN §3): one qcow2 per LV, Proxmox VE 9 names and tags,
 * lvchain's metadata in LV tags. Observation runs one `pvs` report per VG plus a batch of
 * header reads for active LVs; plan never activates anything.
 */
import type { CommandResult, Executor } from '../../exec/executor.js';
import { CommandError, ok } from '../../exec/executor.js';
import type { DesiredVolumeGroup } from '../../model/desired.js';
import type {
  ObservedDisk,
  ObservedLayer,
  ObservedStorage,
  ObservedVolumeGroup,
} from '../../model/observed.js';
import type { PlannedStep } from '../../model/plan.js';
import type { LayerRef } from '../../model/layer.js';
import type { ObserveRequest, StorageDriver, StorageStep } from '../driver.js';
import { fillHeaders } from '../headers.js';
import { lockState, probeArgv } from '../lock-probe.js';
import { findLvmDependants } from './dependants.js';
import type { BackingsRead } from '../dependants.js';
import { executeLvmStep } from './execute.js';
import { lvName, parseLvName } from './layout.js';
import {
  LVS_FIELDS,
  VGS_FIELDS,
  type VgReport,
  parseLvs,
  parseVgReport,
  parseWipefs,
  pvOwnerArgv,
  pvOwners,
  reportArgv,
  vgLockPath,
  vgReportArgv,
} from './report.js';
import { disksFromRows } from './rows.js';
import { describeLvmStep } from './steps.js';
import { LvchainError } from '../../base/errors.js';
import type { ProxmoxStorageLock } from '../proxmox/cluster-lock.js';
import type { VmPlacements } from '../proxmox/placement.js';
import { placementText, runningElsewhere } from '../../model/proxmox.js';
import { activateChain, deactivateChain } from './activation.js';
import { mergeHistoryFromVgTags, mergeTagDiff } from './tags.js';
import { withSamples, type MergeSample } from '../../model/merge-history.js';

/** LVM's default physical extent size, used to plan a VG that does not exist yet. */
const DEFAULT_EXTENT = 4 * 1024 * 1024;

export class LvmDriver implements StorageDriver {
  readonly kind = 'lvm' as const;
  readonly storage: string;
  readonly location: string;
  private readonly vg: string;
  private readonly pvs: string[];
  readonly exec: Executor;
  readonly protocol = 'host_device' as const;
  /** Disks whose chain prepareDisk found inactive: off Proxmox, releaseDisk deactivates only these. */
  private readonly activated = new Set<string>();
  /** Disks whose Proxmox VM runs on this node, by prepareDisk's look: their chain stays active. */
  private readonly runHere = new Set<string>();
  /** The declared disks prepareDisk parsed names against, for releaseDisk's look. */
  private readonly declaredWith = new Map<string, readonly string[]>();
  /** Backing names apply's searches for linked clones read in this run. */
  private readonly backingsRead: BackingsRead = new Map();

  constructor(
    config: DesiredVolumeGroup,
    exec: Executor,
    /** Proxmox's cluster storage lock, when the host may be a Proxmox VE node. */
    private readonly clusterLock?: ProxmoxStorageLock,
    /** Where the Proxmox VMs that list these disks run, when the host may be a node. */
    private readonly placements?: VmPlacements,
  ) {
    this.storage = config.name;
    this.vg = config.name;
    this.pvs = config.pvs;
    this.exec = exec;
    this.location = `VG ${config.name} on ${exec.host}`;
  }

  path(disk: string, ref: LayerRef): string {
    return `/dev/${this.vg}/${lvName(disk, ref)}`;
  }

  name(disk: string, ref: LayerRef): string {
    return lvName(disk, ref);
  }

  /** Only active LVs can be read: plan never activates anything. */
  readable(layer: ObservedLayer): boolean {
    return layer.lv?.active === true;
  }

  /**
   * One `pvs` that reports the VG's devices, its fields and its LVs (report.ts): a plan costs
   * one LVM process per VG. Each LVM process costs a fixed startup, which dominates on busy
   * hosts: planning from names and tags keeps a plan close to the cost of that one call
   * (issue: bench:lvm). `lvs` follows only for a VG with LVs that have no PV segment.
   */
  async observe(request: ObserveRequest): Promise<ObservedStorage> {
    // The lock probe rides in the same round trip: a plan costs one remote command.
    // So does the look at whether the host is a Proxmox node (DESIGN §13).
    const node = this.clusterLock?.probe() ?? [];
    const vms = node.length > 0 ? (this.placements?.probe(request.disks) ?? []) : [];
    const [reported, probe, ...rest] = (await this.exec.runBatch([
      vgReportArgv(this.vg),
      probeArgv(this.lockTarget().path),
      ...node,
      ...vms,
    ])) as [CommandResult, CommandResult, ...CommandResult[]];
    const found = node.length > 0 ? this.clusterLock?.prime(rest.slice(0, node.length)) : undefined;
    const placed = await this.placements?.locate(rest.slice(node.length), found, request.disks);
    const proxmox = found && {
      proxmox: {
        root: found.node.root,
        detected: found.node.detected,
        pmxcfs: found.node.pmxcfs,
        storageIds: found.ids,
      },
    };
    const report = await this.vgReport(reported);
    if (!report) return this.absentVg();
    const row = report.vg;
    const rows =
      report.lvs ??
      parseLvs(ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`).stdout);
    const { disks, foreign } = disksFromRows(this.storage, rows, request.disks);
    for (const [name, where] of Object.entries(placed ?? {}))
      if (disks[name]) (disks[name] as ObservedDisk).proxmoxVms = where;
    const notMembers = await this.notMembers(report.pvs);
    return {
      kind: 'lvm',
      name: this.storage,
      exists: true,
      free: row.vg_free,
      size: row.vg_size,
      extentSize: row.vg_extent_size,
      mdaFree: row.vg_mda_free,
      mdaSize: row.vg_mda_size,
      lvCount: row.lv_count,
      mergeHistory: mergeHistoryFromVgTags(row.vg_tags ?? ''),
      disks,
      foreign,
      measurements: {},
      errors: [],
      dependantsRead: false,
      ...lockState(probe),
      ...(notMembers.length > 0 ? { notMembers } : {}),
      ...proxmox,
    } satisfies ObservedVolumeGroup;
  }

  /** Declared devices the VG is not on, with the VG each is in, if any: asked only when there are some. */
  private async notMembers(members: readonly string[]): Promise<{ path: string; vg?: string }[]> {
    const others = this.pvs.filter((p) => !members.includes(p));
    if (others.length === 0) return [];
    const owners = pvOwners(others, await this.exec.runBatch(others.map(pvOwnerArgv)));
    // A device named by another path (a /dev/disk/by-id link) may be one of its PVs after all.
    return owners.filter((m) => m.vg !== this.vg);
  }

  /**
   * The VG's report, or undefined when the VG is not there. `pvs` reads every VG to select this
   * one and fails when another VG cannot be read; rows of this one mean it was read. Without
   * rows, `vgs` of this VG alone tells a missing VG from a failure, and names the failure.
   */
  private async vgReport(reported: CommandResult): Promise<VgReport | undefined> {
    const report = reported.stdout.trim() === '' ? undefined : parseVgReport(reported.stdout);
    if (report || !reported.failed) return report;
    const vgs = await this.exec.run(reportArgv('vgs', VGS_FIELDS, this.vg));
    if (vgs.failed && /not found/i.test(vgs.stderr)) return undefined;
    ok(vgs, `vgs ${this.vg}`);
    throw new CommandError(reported, `pvs --select vg_name=${this.vg}`);
  }

  lockTarget(): { exec: Executor; path: string } {
    return { exec: this.exec, path: vgLockPath(this.vg) };
  }

  async readHeaders(observed: ObservedStorage, disks: readonly string[]): Promise<void> {
    await this.fillHeaders(
      disks.map((d) => observed.disks[d]).filter((d): d is ObservedDisk => d !== undefined),
    );
  }

  async readDependants(observed: ObservedStorage, disks: readonly string[]): Promise<void> {
    const active = [
      ...observed.foreign.filter((f) => f.active).map((f) => ({ name: f.name })),
      ...Object.values(observed.disks).flatMap((d) =>
        d.layers.filter((l) => l.lv?.active).map((l) => ({ name: l.name })),
      ),
    ];
    await findLvmDependants(
      this.exec,
      this.vg,
      disks.map((d) => observed.disks[d]).filter((d): d is ObservedDisk => d !== undefined),
      active,
    );
    delete observed.dependantsRead;
  }

  /** A VG that is not there: with `pvs:`, report what each device holds. */
  private async absentVg(): Promise<ObservedVolumeGroup> {
    const observed: ObservedVolumeGroup = {
      kind: 'lvm',
      name: this.storage,
      exists: false,
      free: 0,
      size: 0,
      extentSize: DEFAULT_EXTENT,
      mdaFree: 0,
      mdaSize: 0,
      lvCount: 0,
      disks: {},
      foreign: [],
      measurements: {},
      errors: [],
    };
    if (this.pvs.length === 0) return observed;
    const results = await this.exec.runBatch(
      this.pvs.flatMap((p) => [
        ['wipefs', '--json', p],
        ['blockdev', '--getsize64', p],
      ]),
    );
    observed.devices = this.pvs.map((path, i) => {
      const sig = results[2 * i] as CommandResult;
      const size = results[2 * i + 1] as CommandResult;
      const exists = !size.failed;
      return {
        path,
        exists,
        signatures: exists ? parseWipefs(sig.stdout) : [],
        size: exists ? Number(size.stdout.trim()) : 0,
      };
    });
    return observed;
  }

  private async fillHeaders(disks: readonly ObservedDisk[]): Promise<void> {
    const site = { path: (d: string, r: LayerRef) => this.path(d, r), parseName: parseLvName };
    await fillHeaders(this.exec, disks, site, (l) => this.readable(l));
  }

  /**
   * Apply only: refuse a disk whose Proxmox VM runs on another node, before anything happens to
   * it; then activate its whole chain as Proxmox does and observe it with its headers.
   */
  async prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    const vms = (await this.placements?.read(await this.clusterLock?.resolve(), [disk]))?.[disk];
    const away = runningElsewhere(vms);
    if (away)
      throw new LvchainError(
        'image_in_use',
        `disk ${disk}: ${placementText(away)}; lvchain never activates, renames or merges a disk of a VM running on another node. Nothing was done.`,
        {
          details: { disk, vmid: away.vmid, node: away.node },
          hints: [
            `Change it when the VM is stopped, or with Proxmox on ${away.node}; lvchain's Proxmox engine, which would route it there, is later work.`,
          ],
        },
      );
    if (vms?.some((v) => v.here && v.state !== 'stopped')) this.runHere.add(disk);
    this.declaredWith.set(disk, declared);
    let observed = await this.observeDiskOnly(disk, declared);
    if (vms) observed.proxmoxVms = vms;
    // Its headers change in place (a stream's new backing) where lvs sees nothing.
    for (const l of observed.layers) this.backingsRead.delete(l.name);
    if (observed.layers.length === 0) return observed;
    const inactive = observed.layers.some((l) => !l.lv?.active);
    await activateChain(this.exec, this.vg, disk, this.trashOf(observed));
    if (inactive) {
      this.activated.add(disk);
      observed = await this.observeDiskOnly(disk, declared);
      if (vms) observed.proxmoxVms = vms;
    }
    return observed;
  }

  private trashOf(disk: ObservedDisk): string[] {
    return disk.layers.filter((l) => l.ref.role === 'trash').map((l) => `${this.vg}/${l.name}`);
  }

  private async observeDiskOnly(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    const rows = parseLvs(r.stdout);
    const { disks } = disksFromRows(this.storage, rows, [disk, ...declared]);
    const observed = disks[disk] ?? { name: disk, storage: this.storage, layers: [] };
    await this.fillHeaders([observed]);
    return observed;
  }

  async readDiskDependants(disk: ObservedDisk): Promise<void> {
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    // Its own layers are never its dependants: not read.
    const own = new Set(disk.layers.map((l) => l.name));
    const active = parseLvs(r.stdout)
      .filter((row) => row.lv_active === 'active' && !own.has(row.lv_name))
      .map((row) => ({ name: row.lv_name, identity: `${row.lv_uuid}:${row.lv_size}` }));
    await findLvmDependants(this.exec, this.vg, [disk], active, this.backingsRead);
  }

  /**
   * On a Proxmox node, deactivate the chain after use unless its VM runs here, as Proxmox does:
   * a chain a killed run left active is deactivated by the next run that finishes its operation.
   * Elsewhere, restore what prepareDisk found: a chain that was inactive is deactivated again. A
   * chain with an open layer is in use on this host, and one whose operation is unfinished waits
   * for its resume: both stay as they are.
   */
  async releaseDisk(disk: string): Promise<void> {
    const activated = this.activated.delete(disk);
    const here = this.runHere.delete(disk);
    const declared = this.declaredWith.get(disk) ?? [];
    this.declaredWith.delete(disk);
    const proxmox = (await this.clusterLock?.resolve()) !== undefined;
    if (proxmox ? here : !activated) return;
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    const layers = disksFromRows(this.storage, parseLvs(r.stdout), [disk, ...declared]).disks[disk]?.layers;
    const active = (layers ?? []).filter((l) => l.lv?.active);
    if (active.length === 0 || active.some((l) => l.open)) return;
    // An operation left unfinished (a failed or stopped run) stays active: its resume is planned
    // from the headers, which an inactive chain hides, and an incomplete layer may have none yet.
    if ((layers ?? []).some((l) => l.meta?.incomplete || l.meta?.intent)) return;
    await deactivateChain(
      this.exec,
      this.vg,
      disk,
      this.trashOf({ name: disk, storage: this.storage, layers: active }),
    );
  }

  async layersInUse(disk: ObservedDisk, layers: readonly string[]): Promise<string[]> {
    return disk.layers.filter((l) => l.open && layers.includes(l.name)).map((l) => l.name);
  }

  /**
   * Add merges to the VG's record, a tag in the VG metadata that every node sees: a VG metadata
   * change, so under Proxmox's storage lock on a node. A record that is not lvchain's is replaced.
   */
  async recordMerges(samples: readonly MergeSample[]): Promise<void> {
    const read = ok(
      await this.exec.run(['vgs', '--noheadings', '-o', 'vg_tags', this.vg]),
      `vgs -o vg_tags ${this.vg}`,
    ).stdout.trim();
    const old = mergeHistoryFromVgTags(read).samples;
    const { add, del } = mergeTagDiff(read, withSamples(old, samples));
    const argv = ['vgchange', ...del.flatMap((t) => ['--deltag', t]), '--addtag', add, this.vg];
    const run = () => this.exec.run(argv);
    const what = `recording merge times on VG ${this.vg}`;
    ok(this.clusterLock ? await this.clusterLock.around(what, run) : await run(), what);
  }

  describe(disk: string, step: StorageStep): Pick<PlannedStep, 'description' | 'commands'> {
    return describeLvmStep(this.vg, disk, step);
  }

  async execute(disk: string, step: StorageStep, onProgress?: (fraction: number) => void): Promise<void> {
    const { commands } = this.describe(disk, step);
    await executeLvmStep(this.exec, this.vg, disk, step, commands, onProgress, this.clusterLock);
  }
}
