/**
 * Thick LVM volume groups (DESIGN §3): one qcow2 per LV, Proxmox VE 9 names and tags,
 * lvchain's metadata in LV tags. Observation runs one `vgs` and one `lvs` per VG plus a
 * batch of header reads for active LVs; plan never activates anything.
 */
import type { Backend, ObserveRequest, StepDescription } from '../backend.js';
import { progressParser } from '../backend.js';
import type { CommandResult, Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';
import type { DesiredVolumeGroup } from '../../model/desired.js';
import type {
  ForeignObject,
  ObservedDisk,
  ObservedLayer,
  ObservedStorage,
  ObservedVolumeGroup,
} from '../../model/observed.js';
import type { Step } from '../../model/plan.js';
import type { LayerRef } from '../../model/layer.js';
import { describeRef } from '../../model/layer.js';
import {
  layerAloneSpec,
  measureArgv,
  parseLayerMap,
  parseMeasure,
  QCOW2_OPTIONS,
} from '../../observe/qemu.js';
import { readHeaders, resolveBacking } from '../headers.js';
import { findLvmDependants } from './dependants.js';
import { lvName, parseLvName, proxmoxTags } from './layout.js';
import { metaToTags, tagDiff, tagsToMeta } from './tags.js';
import {
  LVS_FIELDS,
  LVS_WITH_VG_FIELDS,
  VGS_FIELDS,
  lvTimeIso,
  parseLvs,
  parseVgs,
  parseWipefs,
  reportArgv,
  splitTags,
  vgFromLvs,
  vgLockPath,
  type LvRow,
} from './report.js';
import { LvchainError } from '../../base/errors.js';
import { lockState } from '../locks.js';
import { probeArgv } from '../../apply/lock.js';

/** LVM's default physical extent size, used to plan a VG that does not exist yet. */
const DEFAULT_EXTENT = 4 * 1024 * 1024;

export class LvmBackend implements Backend {
  readonly kind = 'lvm' as const;
  readonly storage: string;
  readonly location: string;
  private readonly vg: string;
  private readonly pvs: string[];
  private readonly exec: Executor;
  /** Layers prepareDisk activated, per disk, so releaseDisk can deactivate the chain again. */
  private readonly activated = new Map<string, boolean>();

  constructor(config: DesiredVolumeGroup, exec: Executor) {
    this.storage = config.name;
    this.vg = config.name;
    this.pvs = config.pvs;
    this.exec = exec;
    this.location = `VG ${config.name} on ${exec.host}`;
  }

  private dev(disk: string, ref: LayerRef): string {
    return `/dev/${this.vg}/${lvName(disk, ref)}`;
  }

  private lv(disk: string, ref: LayerRef): string {
    return `${this.vg}/${lvName(disk, ref)}`;
  }

  /**
   * One `lvs` that also reports the VG's fields; `vgs` only when the VG has no LVs. Each LVM
   * process costs a fixed startup, which dominates on busy hosts: planning from names and
   * tags keeps a plan close to the cost of that one call (issue: bench:lvm).
   */
  async observe(request: ObserveRequest): Promise<ObservedStorage> {
    // The lock probe rides in the same round trip: a plan costs one remote command.
    const [lvs, probe] = (await this.exec.runBatch([
      reportArgv('lvs', LVS_WITH_VG_FIELDS, this.vg),
      probeArgv(this.lockTarget().path),
    ])) as [CommandResult, CommandResult];
    if (lvs.failed) {
      if (/not found/i.test(lvs.stderr)) return this.absentVg();
      ok(lvs, `lvs ${this.vg}`);
    }
    let row = vgFromLvs(lvs.stdout);
    if (!row) {
      const vgs = ok(await this.exec.run(reportArgv('vgs', VGS_FIELDS, this.vg)), `vgs ${this.vg}`);
      row = parseVgs(vgs.stdout)[0];
    }
    if (!row)
      throw new LvchainError(
        'command_failed',
        `lvs/vgs ${this.vg} on ${this.exec.host} returned no volume group`,
      );
    const { disks, foreign } = this.disksFrom(parseLvs(lvs.stdout), request.disks);
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
      disks,
      foreign,
      measurements: {},
      errors: [],
      dependantsRead: false,
      ...lockState(probe),
    } satisfies ObservedVolumeGroup;
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
      ...observed.foreign.filter((f) => f.active).map((f) => f.name),
      ...Object.values(observed.disks).flatMap((d) =>
        d.layers.filter((l) => l.lv?.active).map((l) => l.name),
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

  async measure(observed: ObservedStorage, sizes: readonly number[]): Promise<void> {
    const unique = [...new Set(sizes)].sort((a, b) => a - b);
    const results = await this.exec.runBatch(unique.map(measureArgv));
    unique.forEach((size, i) => {
      observed.measurements[size] = parseMeasure(
        ok(results[i] as CommandResult, `qemu-img measure on ${this.exec.host}`).stdout,
      );
    });
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

  private disksFrom(
    rows: readonly LvRow[],
    declared: readonly string[],
  ): { disks: Record<string, ObservedDisk>; foreign: ForeignObject[] } {
    const tagged = new Set(declared);
    const parsedTags = rows.map((r) => tagsToMeta(splitTags(r.lv_tags)));
    for (const t of parsedTags) if (t.meta) tagged.add(t.meta.disk);
    const known = [...tagged];
    const disks: Record<string, ObservedDisk> = {};
    const foreign: ForeignObject[] = [];
    rows.forEach((r, i) => {
      const tags = parsedTags[i] as ReturnType<typeof tagsToMeta>;
      const parsed = parseLvName(r.lv_name, known);
      if (!parsed || (tags.meta && tags.meta.disk !== parsed.disk)) {
        if (tags.meta) {
          const d = (disks[tags.meta.disk] ??= { name: tags.meta.disk, storage: this.storage, layers: [] });
          (d.unplaced ??= []).push(r.lv_name);
        } else
          foreign.push({
            name: r.lv_name,
            bytes: r.lv_size,
            note: 'no lvchain metadata',
            active: r.lv_active === 'active',
          });
        return;
      }
      const disk = (disks[parsed.disk] ??= { name: parsed.disk, storage: this.storage, layers: [] });
      const active = r.lv_active === 'active';
      const time = lvTimeIso(r.lv_time);
      const layer: ObservedLayer = {
        ref: parsed.ref,
        name: r.lv_name,
        header: active
          ? { state: 'not-read', reason: 'not needed by the plan so far' }
          : { state: 'not-read', reason: 'the LV is inactive; plan does not activate anything' },
        bytes: r.lv_size,
        capacity: r.lv_size,
        lv: {
          uuid: r.lv_uuid,
          active,
          attr: r.lv_attr,
          tags: splitTags(r.lv_tags),
          ...(time ? { time } : {}),
        },
        open: r.lv_device_open === 'open',
        ...(time ? { born: time } : {}),
      };
      if (tags.meta) layer.meta = tags.meta;
      if (tags.problems.length > 0) layer.metaProblems = tags.problems;
      disk.layers.push(layer);
    });
    return { disks, foreign };
  }

  private async fillHeaders(disks: readonly ObservedDisk[]): Promise<void> {
    const targets = disks.map((d) => {
      const active = d.layers.filter((l) => l.lv?.active);
      const paths = new Map(active.map((l) => [l.name, this.dev(d.name, l.ref)]));
      const top = active.find((l) => l.ref.role === 'top')?.name;
      return top ? { paths, top } : { paths };
    });
    const headers = await readHeaders(this.exec, targets);
    for (const d of disks) {
      const known = [d.name];
      for (const l of d.layers) {
        if (!l.lv?.active) continue;
        const h = headers.get(this.dev(d.name, l.ref));
        if (!h) continue;
        l.header =
          h.state === 'read'
            ? { ...h, backing: resolveBacking(h.header, (n) => parseLvName(n, known), d.name) }
            : h;
      }
    }
  }

  async readExtents(
    observed: ObservedStorage,
    wanted: Readonly<Record<string, readonly string[]>>,
  ): Promise<void> {
    const layers = Object.entries(wanted).flatMap(([name, names]) =>
      // Only active LVs can be read: plan never activates anything.
      (observed.disks[name]?.layers ?? [])
        .filter((l) => names.includes(l.name) && l.lv?.active)
        .map((l) => ({ l, path: this.dev(name, l.ref) })),
    );
    const results = await this.exec.runBatch(
      layers.map(({ path }) => [
        'qemu-img',
        'map',
        '--output=json',
        '-U',
        layerAloneSpec('host_device', path),
      ]),
    );
    layers.forEach(({ l }, i) => {
      const r = results[i];
      if (r && !r.failed) l.extents = parseLayerMap(r.stdout);
    });
  }

  /** Activate the disk's chain if needed (apply only), then observe it with its headers. */
  async prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    let observed = await this.observeDiskOnly(disk, declared);
    const inactive = observed.layers.filter((l) => !l.lv?.active);
    if (inactive.length > 0) {
      ok(
        await this.exec.run(['lvchange', '-ay', ...inactive.map((l) => this.lv(disk, l.ref))]),
        `activating ${disk}`,
      );
      this.activated.set(disk, true);
      observed = await this.observeDiskOnly(disk, declared);
    }
    return observed;
  }

  private async observeDiskOnly(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    const rows = parseLvs(r.stdout);
    const { disks } = this.disksFrom(rows, [disk, ...declared]);
    const observed = disks[disk] ?? { name: disk, storage: this.storage, layers: [] };
    await this.fillHeaders([observed]);
    return observed;
  }

  async readDiskDependants(disk: ObservedDisk): Promise<void> {
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    const active = parseLvs(r.stdout)
      .filter((row) => row.lv_active === 'active')
      .map((row) => row.lv_name);
    await findLvmDependants(this.exec, this.vg, [disk], active);
  }

  /** Restore the activation state prepareDisk found: a chain that was inactive is deactivated again. */
  async releaseDisk(disk: string): Promise<void> {
    if (!this.activated.get(disk)) return;
    this.activated.delete(disk);
    const r = ok(await this.exec.run(reportArgv('lvs', LVS_FIELDS, this.vg)), `lvs ${this.vg}`);
    const names = parseLvs(r.stdout)
      .filter((row) => parseLvName(row.lv_name, [disk])?.disk === disk && row.lv_active === 'active')
      .map((row) => `${this.vg}/${row.lv_name}`);
    if (names.length > 0) ok(await this.exec.run(['lvchange', '-an', ...names]), `deactivating ${disk}`);
  }

  async layersInUse(disk: ObservedDisk, layers: readonly string[]): Promise<string[]> {
    return disk.layers.filter((l) => l.open && layers.includes(l.name)).map((l) => l.name);
  }

  describe(disk: string, step: Step): StepDescription {
    const name = (ref: LayerRef) => lvName(disk, ref);
    switch (step.kind) {
      case 'set_meta': {
        const { add, del } = tagDiff(step.from, step.meta);
        const what =
          step.purpose === 'record_intent'
            ? 'record intent on'
            : step.purpose === 'finish'
              ? 'finish metadata of'
              : 'update metadata of';
        if (add.length === 0 && del.length === 0)
          return { description: `${what} ${name(step.layer)} (already current)`, commands: [] };
        return {
          description: `${what} ${name(step.layer)}`,
          commands: [
            [
              'lvchange',
              ...del.flatMap((t) => ['--deltag', t]),
              ...add.flatMap((t) => ['--addtag', t]),
              this.lv(disk, step.layer),
            ],
          ],
        };
      }
      case 'allocate': {
        if (step.capacity === undefined)
          throw new LvchainError('plan_invalid', `allocate of ${name(step.layer)} has no LV size`);
        const tags = [...proxmoxTags(disk), ...metaToTags(step.meta)];
        return {
          description: `create LV ${name(step.layer)} (${step.capacity} bytes)`,
          commands: [
            [
              'lvcreate',
              '--yes',
              '-Wy',
              '-ay',
              '--setautoactivation',
              'n',
              '--size',
              `${Math.ceil(step.capacity / 1024)}k`,
              '--name',
              name(step.layer),
              ...tags.flatMap((t) => ['--addtag', t]),
              this.vg,
            ],
          ],
        };
      }
      case 'wipe':
        return {
          description: `zero ${name(step.layer)} (wipe: zeroout-on-create)`,
          commands: [zeroArgv(this.dev(disk, step.layer))],
        };
      case 'format': {
        const argv = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', QCOW2_OPTIONS];
        if (step.backing) argv.push('-F', 'qcow2', '-b', name(step.backing));
        argv.push(this.dev(disk, step.layer), String(step.virtual_size));
        return {
          description: `format ${name(step.layer)}${step.backing ? ` on ${name(step.backing)}` : ''}`,
          commands: [argv],
        };
      }
      case 'extend':
        if (step.capacity === undefined)
          throw new LvchainError('plan_invalid', `extend of ${name(step.layer)} has no LV size`);
        return {
          description: `extend LV ${name(step.layer)} to ${step.capacity} bytes`,
          commands: [
            ['lvextend', '--size', `${Math.ceil(step.capacity / 1024)}k`, this.lv(disk, step.layer)],
          ],
        };
      case 'resize':
        return {
          description: `grow ${name(step.layer)} to ${step.virtual_size} bytes`,
          commands: [
            [
              'qemu-img',
              'resize',
              '-q',
              '-f',
              'qcow2',
              `--preallocation=${step.preallocation}`,
              this.dev(disk, step.layer),
              String(step.virtual_size),
            ],
          ],
        };
      case 'rename':
        return {
          description: `rename ${name(step.from)} to ${name(step.to)}`,
          commands: [['lvrename', this.vg, name(step.from), name(step.to)]],
        };
      case 'commit':
        return {
          description: `commit ${name(step.layer)} into ${name(step.into)} (${step.bytes} bytes)`,
          commands: [
            [
              'qemu-img',
              'commit',
              '-p',
              '-t',
              'none',
              '-f',
              'qcow2',
              '-d',
              '-b',
              this.dev(disk, step.into),
              this.dev(disk, step.layer),
            ],
          ],
        };
      case 'stream': {
        // directsync (O_DIRECT and write-through): qemu-img switches the backing file before it
        // flushes its cached L2 tables, so a kill in between would lose the streamed data.
        const argv = ['qemu-img', 'rebase', '-p', '-t', 'directsync', '-T', 'none', '-f', 'qcow2'];
        argv.push(
          ...(step.onto ? ['-F', 'qcow2', '-b', name(step.onto)] : ['-b', '']),
          this.dev(disk, step.layer),
        );
        return {
          description: `stream ${name(step.from)} into ${name(step.layer)} (${step.bytes} bytes), new backing ${step.onto ? name(step.onto) : 'none'}`,
          commands: [argv],
        };
      }
      case 'remove': {
        const commands: string[][] = [];
        if (step.wipe) commands.push(zeroArgv(this.dev(disk, step.layer)));
        commands.push(['lvremove', '--yes', this.lv(disk, step.layer)]);
        return { description: `${step.wipe ? 'zero and ' : ''}remove LV ${name(step.layer)}`, commands };
      }
      case 'create_vg':
        return {
          description: `create volume group ${this.vg} on ${step.devices.join(', ')} (checked blank again first)`,
          commands: [
            ['pvcreate', '--yes', ...step.devices],
            ['vgcreate', this.vg, ...step.devices],
          ],
        };
    }
  }

  async execute(disk: string, step: Step, onProgress?: (fraction: number) => void): Promise<void> {
    if (step.kind === 'create_vg') await this.assertBlank(step.devices);
    const { commands } = this.describe(disk, step);
    const what =
      step.kind === 'create_vg'
        ? `creating VG ${this.vg}`
        : `${step.kind} of ${describeRef('layer' in step ? step.layer : step.from)} of ${disk}`;
    // Data moves and wipes run long: each on its own connection, so they stop with lvchain.
    const long =
      step.kind === 'commit' ||
      step.kind === 'stream' ||
      step.kind === 'wipe' ||
      (step.kind === 'remove' && step.wipe);
    for (const argv of commands) {
      if (argv[0] === 'blkdiscard') await this.zero(argv[argv.length - 1] as string, onProgress);
      else {
        const r = await this.exec.run(argv, { onStdout: progressParser(onProgress), ownConnection: long });
        if (
          r.failed &&
          (argv[0] === 'lvcreate' || argv[0] === 'lvextend') &&
          /insufficient free space|Insufficient free/i.test(r.stderr)
        ) {
          throw new LvchainError(
            'command_failed',
            `${this.vg} on ${this.exec.host} has no room for ${what}: ${r.stderr.trim().split('\n').pop()}`,
            {
              details: { argv, stderr: r.stderr },
              hints: [
                'The operation is recorded and the chain is consistent; nothing that was written is lost.',
                `Free space in ${this.vg} (or extend it), then run "lvchain apply" to finish it.`,
              ],
            },
          );
        }
        ok(r, what);
      }
    }
  }

  /**
   * `blkdiscard --zeroout` (the kernel emulates write-zeroes where a device lacks it), with
   * progress from its verbose steps; writing zeros with dd if the ioctl is refused outright.
   */
  private async zero(dev: string, onProgress?: (fraction: number) => void): Promise<void> {
    const size = Number(
      ok(await this.exec.run(['blockdev', '--getsize64', dev]), `size of ${dev}`).stdout.trim(),
    );
    const report =
      onProgress && size > 0
        ? (chunk: string) => {
            for (const m of chunk.matchAll(/Zero-filled (\d+) bytes from the offset (\d+)/g))
              onProgress(Math.min(1, (Number(m[1]) + Number(m[2])) / size));
          }
        : undefined;
    const r = await this.exec.run(zeroArgv(dev), {
      ownConnection: true,
      ...(report ? { onStdout: report } : {}),
    });
    if (!r.failed) return;
    if (!/not supported|BLKZEROOUT|Inappropriate ioctl/i.test(r.stderr)) ok(r, `zeroing ${dev}`);
    ok(
      await this.exec.run(['dd', 'if=/dev/zero', `of=${dev}`, 'bs=4M', 'oflag=direct', 'conv=fsync'], {
        ownConnection: true,
      }),
      `zeroing ${dev} with dd`,
    );
  }

  /** A device is used for a new VG only if nothing is on it: any signature refuses it. */
  private async assertBlank(devices: readonly string[]): Promise<void> {
    const results = await this.exec.runBatch(devices.map((d) => ['wipefs', '--json', d]));
    devices.forEach((d, i) => {
      const r = results[i] as CommandResult;
      if (r.failed)
        throw new LvchainError(
          'command_failed',
          `cannot inspect ${d} on ${this.exec.host}: ${r.stderr.trim()}`,
        );
      const found = parseWipefs(r.stdout);
      if (found.length > 0)
        throw new LvchainError(
          'drift',
          `${d} on ${this.exec.host} is not blank (${found.join(', ')}); lvchain creates VGs only on blank devices`,
        );
    });
  }
}

/** Zeroing in 64 MiB steps, so the verbose output doubles as progress. */
function zeroArgv(dev: string): string[] {
  return ['blkdiscard', '--zeroout', '--verbose', '--step', '64M', dev];
}
