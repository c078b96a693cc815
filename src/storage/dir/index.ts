/** A directory of qcow2 files on this machine (Proxmox dir layout, DESIGN §3). */
import { join } from 'node:path';
import { statfs } from 'node:fs/promises';
import type { Executor } from '../../exec/executor.js';
import type { DesiredDirectory } from '../../model/desired.js';
import type {
  ForeignObject,
  ObservedDirectory,
  ObservedDisk,
  ObservedLayer,
  ObservedStorage,
} from '../../model/observed.js';
import type { PlannedStep } from '../../model/plan.js';
import type { LayerRef } from '../../model/layer.js';
import type { ObserveRequest, StorageDriver, StorageStep } from '../driver.js';
import { chainInfoArgv, fillHeaders, infoArgv } from '../headers.js';
import { parseInfo } from '../../observe/qemu.js';
import { lockState, probeArgv } from '../lock-probe.js';
import { findDirDependants } from './dependants.js';
import type { BackingsRead } from '../dependants.js';
import { identityAt, isDir, kindOf, listDirs, listEntries, nearestExisting, notRegular } from './entries.js';
import { executeDirStep } from './execute.js';
import { diskDir, imagesDir, layerFileName, parseLayerFileName, SIDECAR_SUFFIX } from './layout.js';
import { readSidecar } from './sidecar.js';
import { sweepTrash } from './trash.js';
import { imageLocks } from './held.js';
import { describeDirStep } from './steps.js';
import { LvchainError } from '../../base/errors.js';
import { readMergeHistory, recordDirMerges } from './merge-history.js';
import type { MergeSample } from '../../model/merge-history.js';

/** A directory of qcow2 files on this machine. */
export class DirDriver implements StorageDriver {
  readonly kind = 'dir' as const;
  readonly storage: string;
  readonly location: string;
  private readonly root: string;
  readonly exec: Executor;
  readonly protocol = 'file' as const;
  /** Each layer file's identity (entries.ts) when it was last listed. */
  private readonly identities = new Map<string, string>();
  /** Headers read in this run, by path, with the identity of the file they were read from. */
  private readonly headersRead = new Map<string, { identity: string; header: ObservedLayer['header'] }>();
  /** Backing files read in this run, by path and file identity (entries.ts), for dependants. */
  private readonly backingsRead: BackingsRead = new Map();
  /** Per disk being changed: the layers prepareDisk's locking look found held by nobody. */
  private readonly unheld = new Map<string, Set<string>>();

  constructor(config: DesiredDirectory, exec: Executor) {
    this.storage = config.name;
    this.root = config.path;
    this.location = config.path;
    this.exec = exec;
  }

  path(disk: string, ref: LayerRef): string {
    return join(diskDir(this.root, disk), layerFileName(disk, ref));
  }

  name(disk: string, ref: LayerRef): string {
    return layerFileName(disk, ref);
  }

  version(path: string): Promise<string | undefined> {
    return identityAt(path);
  }

  /** Headers are read at observation; a layer whose header was read can be opened. */
  readable(layer: ObservedLayer): boolean {
    return layer.header.state === 'read';
  }

  async observe(request: ObserveRequest): Promise<ObservedStorage> {
    const fsInfo = await statfs(await nearestExisting(this.root));
    const exists = await isDir(this.root);
    const foreign: ForeignObject[] = [];
    const disks: Record<string, ObservedDisk> = {};
    const errors: string[] = [];
    const images = imagesDir(this.root);
    const imagesKind = await kindOf(images);
    if (imagesKind !== undefined && imagesKind !== 'directory') {
      // Nothing under it is listed or read: through a link it is some other directory.
      errors.push(notRegular(images, imagesKind));
    }
    const dirs = new Map<string, Set<string>>();
    for (const disk of errors.length === 0 ? request.disks : []) {
      const d = diskDir(this.root, disk);
      if (!dirs.has(d)) dirs.set(d, new Set());
      dirs.get(d)?.add(disk);
    }
    if (errors.length === 0)
      for (const sub of await listDirs(images)) if (!dirs.has(sub)) dirs.set(sub, new Set());
    for (const [dir, known] of [...dirs.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const found = await this.observeDir(dir, known);
      Object.assign(disks, found.disks);
      foreign.push(...found.foreign);
    }
    // Local headers are cheap: read them all, so every plan verifies every chain.
    await this.fillHeaders(Object.values(disks));
    await this.fillDependants(Object.values(disks));
    return {
      kind: 'dir',
      name: this.storage,
      path: this.root,
      exists,
      free: Number(fsInfo.bavail) * Number(fsInfo.bsize),
      size: Number(fsInfo.blocks) * Number(fsInfo.bsize),
      disks,
      foreign,
      measurements: {},
      ...(exists ? { mergeHistory: await readMergeHistory(this.root) } : {}),
      ...lockState(await this.exec.run(probeArgv(this.lockTarget().path))),
      errors,
    } satisfies ObservedDirectory;
  }

  /** Layers and sidecars of the disks in one directory. */
  private async observeDir(
    dir: string,
    known: Set<string>,
  ): Promise<{ disks: Record<string, ObservedDisk>; foreign: ForeignObject[] }> {
    const disks: Record<string, ObservedDisk> = {};
    const diskOf = (name: string): ObservedDisk =>
      (disks[name] ??= { name, storage: this.storage, layers: [] });
    const dirKind = await kindOf(dir);
    if (dirKind !== undefined && dirKind !== 'directory') {
      // Its entries are not listed: through a link they would be another directory's files.
      for (const disk of known)
        (diskOf(disk).unsafe ??= []).push({ code: 'not_regular', message: notRegular(dir, dirKind) });
      return { disks, foreign: [] };
    }
    const entries = await listEntries(dir);
    for (const e of entries)
      if (e.name.endsWith(SIDECAR_SUFFIX)) known.add(e.name.slice(0, -SIDECAR_SUFFIX.length));
    const names = [...known];
    const metas = new Map<string, Awaited<ReturnType<typeof readSidecar>>>();
    for (const disk of names) {
      try {
        metas.set(disk, await readSidecar(dir, disk));
      } catch (e) {
        // Drift of this disk alone: the other disks of the storage are planned as usual.
        if (!(e instanceof LvchainError && e.code === 'drift')) throw e;
        (diskOf(disk).unsafe ??= []).push({ code: 'bad_sidecar', message: e.message });
      }
    }
    const foreign: ForeignObject[] = [];
    for (const e of entries) {
      if (e.name.endsWith(SIDECAR_SUFFIX) || e.name.includes(`${SIDECAR_SUFFIX}.tmp-`)) continue;
      const parsed = parseLayerFileName(e.name, known);
      if (!parsed) {
        if (e.kind === 'file')
          foreign.push({
            name: join(dir, e.name),
            bytes: e.bytes,
            note: 'not an lvchain or Proxmox layer name',
          });
        continue;
      }
      const disk = diskOf(parsed.disk);
      if (e.identity !== undefined) this.identities.set(join(dir, e.name), e.identity);
      else this.identities.delete(join(dir, e.name));
      const layer: ObservedLayer = {
        ref: parsed.ref,
        name: e.name,
        header: { state: 'not-read', reason: 'pending' },
        bytes: e.bytes,
        born: e.born,
        modified: e.modified,
      };
      if (e.kind !== 'file') {
        // Never opened: qemu-img would follow a link out of the storage, and hang on a FIFO.
        layer.header = { state: 'not-read', reason: `not a regular file (a ${e.kind})` };
        (disk.unsafe ??= []).push({ code: 'not_regular', message: notRegular(join(dir, e.name), e.kind) });
      }
      const meta = metas.get(parsed.disk)?.layers[e.name];
      if (meta) layer.meta = meta;
      disk.layers.push(layer);
    }
    return { disks, foreign };
  }

  private async fillHeaders(disks: readonly ObservedDisk[], unheld?: Set<string>): Promise<void> {
    // A disk with a link or a FIFO among its layers is drift: none of its headers is read, since
    // the backing chain of a regular layer may lead into the unsafe one.
    const safe = disks.filter((d) => !(d.unsafe ?? []).some((p) => p.code === 'not_regular'));
    const site = { path: (d: string, r: LayerRef) => this.path(d, r), parseName: parseLayerFileName };
    const path = (d: ObservedDisk, l: ObservedLayer) => this.path(d.name, l.ref);
    // A look that takes the image locks is always made; a plain read is skipped for a disk whose
    // files are all as this run last read them (a reconcile's second plan, DESIGN §5).
    const fresh = unheld === undefined ? safe.filter((d) => !this.asRead(d)) : safe;
    for (const d of safe) if (!fresh.includes(d)) this.reuseHeaders(d);
    await fillHeaders(this.exec, fresh, site, () => true, unheld);
    for (const d of fresh)
      for (const l of d.layers) {
        const identity = this.identities.get(path(d, l));
        if (l.header.state === 'read' && identity !== undefined) {
          this.headersRead.set(path(d, l), { identity, header: structuredClone(l.header) });
          this.backingsRead.set(path(d, l), { identity, backing: l.header.header.backingPath });
        } else this.headersRead.delete(path(d, l));
      }
  }

  /** Whether every layer of `disk` is as this run last read its header. */
  private asRead(disk: ObservedDisk): boolean {
    return disk.layers.every((l) => {
      const read = this.headersRead.get(this.path(disk.name, l.ref));
      return read !== undefined && read.identity === this.identities.get(this.path(disk.name, l.ref));
    });
  }

  private reuseHeaders(disk: ObservedDisk): void {
    for (const l of disk.layers)
      l.header = structuredClone(this.headersRead.get(this.path(disk.name, l.ref))?.header ?? l.header);
  }

  async readHeaders(): Promise<void> {}

  /** Observation already read every image under images/. */
  async readDependants(): Promise<void> {}

  lockTarget(): { exec: Executor; path: string } {
    return { exec: this.exec, path: join(this.root, '.lvchain.lock') };
  }

  async recordMerges(samples: readonly MergeSample[]): Promise<void> {
    await recordDirMerges(this.root, samples);
  }

  async prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    // Under the storage lock, before any change: what a killed run left to free is freed now.
    await sweepTrash(this.root);
    const dir = diskDir(this.root, disk);
    const known = new Set([disk, ...declared.filter((d) => diskDir(this.root, d) === dir)]);
    const found = await this.observeDir(dir, known);
    const observed = found.disks[disk] ?? { name: disk, storage: this.storage, layers: [] };
    const unheld = new Set<string>();
    const paths = observed.layers.map((l) => this.path(disk, l.ref));
    const unsafe = (observed.unsafe ?? []).some((p) => p.code === 'not_regular');
    if (
      !unsafe &&
      observed.layers.length > 0 &&
      this.asRead(observed) &&
      (await imageLocks(paths)) === 'none'
    ) {
      // Files as this run read them (a reconcile, or apply right after its plan) and no lock on
      // any: what the locking look below would find, without a qemu-img per disk.
      this.reuseHeaders(observed);
      for (const p of paths) unheld.add(p);
    } else {
      // Read with the image locks taken: the same look tells layersInUse, a moment later, which
      // layers nothing holds, so a change costs one qemu-img less per disk.
      await this.fillHeaders([observed], unheld);
    }
    this.unheld.set(disk, unheld);
    return observed;
  }

  async readDiskDependants(disk: ObservedDisk): Promise<void> {
    await this.fillDependants([disk]);
  }

  private async fillDependants(disks: readonly ObservedDisk[]): Promise<void> {
    await findDirDependants(
      this.exec,
      this.root,
      disks,
      (d, n) => join(diskDir(this.root, d), n),
      this.backingsRead,
    );
  }

  async releaseDisk(disk: string): Promise<void> {
    this.unheld.delete(disk);
  }

  async layersInUse(disk: ObservedDisk, names: readonly string[]): Promise<string[]> {
    const path = (l: ObservedLayer) => this.path(disk.name, l.ref);
    const unheld = this.unheld.get(disk.name) ?? new Set<string>();
    let layers = disk.layers.filter(
      (l) => names.includes(l.name) && l.header.state === 'read' && !unheld.has(path(l)),
    );
    // Without -U, qemu-img takes the image lock, which fails while a VM has the image open. One
    // look at the whole chain takes each image's lock as a look at each does: when it succeeds,
    // nothing holds the layers it reached, and only a failure needs the looks one by one.
    const top = disk.layers.find((l) => l.ref.role === 'top' && l.header.state === 'read');
    if (top && layers.length > 1) {
      const [chain] = await this.exec.runBatch([chainInfoArgv(path(top), false)]);
      if (chain && !chain.failed) {
        const reached = new Set(parseInfo(chain.stdout).map((i) => i.filename));
        layers = layers.filter((l) => !reached.has(path(l)));
      }
    }
    const results = await this.exec.runBatch(layers.map((l) => infoArgv(path(l), false)));
    return layers
      .filter((_, i) => results[i]?.failed && /lock/i.test(results[i]?.stderr ?? ''))
      .map((l) => l.name);
  }

  describe(disk: string, step: StorageStep): Pick<PlannedStep, 'description' | 'commands'> {
    return describeDirStep(this.storage, disk, step);
  }

  async execute(disk: string, step: StorageStep): Promise<void> {
    // Steps this storage cannot do are refused by describing them.
    this.describe(disk, step);
    await executeDirStep(this.root, disk, step);
  }
}
