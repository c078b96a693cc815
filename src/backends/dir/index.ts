import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, rename, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Backend, ObserveRequest, StepDescription } from '../backend.js';
import { progressParser } from '../backend.js';
import type { Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';
import type { DesiredDirectory } from '../../model/desired.js';
import type {
  ForeignObject,
  Measurement,
  ObservedDirectory,
  ObservedDisk,
  ObservedLayer,
  ObservedStorage,
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
import { findDirDependants } from './dependants.js';
import { diskDir, imagesDir, layerFileName, parseLayerFileName, SIDECAR_SUFFIX } from './layout.js';
import { readSidecar, updateSidecar } from './sidecar.js';
import { fsyncDir } from '../../atomic-file.js';
import { LvchainError } from '../../base/errors.js';
import { lockState } from '../locks.js';
import { probeArgv } from '../../apply/lock.js';

/** A directory of qcow2 files on this machine. */
export class DirBackend implements Backend {
  readonly kind = 'dir' as const;
  readonly storage: string;
  readonly location: string;
  private readonly root: string;
  private readonly exec: Executor;

  constructor(config: DesiredDirectory, exec: Executor) {
    this.storage = config.name;
    this.root = config.path;
    this.location = config.path;
    this.exec = exec;
  }

  private path(disk: string, ref: LayerRef): string {
    return join(diskDir(this.root, disk), layerFileName(disk, ref));
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
      const parsed = parseLayerFileName(e.name, names);
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
      const layer: ObservedLayer = {
        ref: parsed.ref,
        name: e.name,
        header: { state: 'not-read', reason: 'pending' },
        bytes: e.bytes,
        born: e.born,
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

  private async fillHeaders(disks: readonly ObservedDisk[]): Promise<void> {
    // A disk with a link or a FIFO among its layers is drift: none of its headers is read, since
    // the backing chain of a regular layer may lead into the unsafe one.
    const safe = disks.filter((d) => !(d.unsafe ?? []).some((p) => p.code === 'not_regular'));
    const targets = safe.map((d) => {
      const paths = new Map(d.layers.map((l) => [l.name, this.path(d.name, l.ref)]));
      const top = d.layers.find((l) => l.ref.role === 'top')?.name;
      return top ? { paths, top } : { paths };
    });
    const headers = await readHeaders(this.exec, targets);
    for (const d of safe) {
      const known = [d.name];
      for (const l of d.layers) {
        const h = headers.get(this.path(d.name, l.ref));
        if (!h) continue;
        l.header =
          h.state === 'read'
            ? { ...h, backing: resolveBacking(h.header, (n) => parseLayerFileName(n, known), d.name) }
            : h;
      }
    }
  }

  async readHeaders(): Promise<void> {}

  /** Observation already read every image under images/. */
  async readDependants(): Promise<void> {}

  lockTarget(): { exec: Executor; path: string } {
    return { exec: this.exec, path: join(this.root, '.lvchain.lock') };
  }

  async measure(observed: ObservedStorage, sizes: readonly number[]): Promise<void> {
    Object.assign(observed.measurements, await measureSizes(this.exec, sizes));
  }

  async readExtents(
    observed: ObservedStorage,
    wanted: Readonly<Record<string, readonly string[]>>,
  ): Promise<void> {
    const layers = Object.entries(wanted).flatMap(([name, names]) =>
      (observed.disks[name]?.layers ?? [])
        .filter((l) => names.includes(l.name) && l.header.state === 'read')
        .map((l) => ({ l, path: this.path(name, l.ref) })),
    );
    const results = await this.exec.runBatch(
      layers.map(({ path }) => ['qemu-img', 'map', '--output=json', '-U', layerAloneSpec('file', path)]),
    );
    layers.forEach(({ l }, i) => {
      const r = results[i];
      if (r && !r.failed) l.extents = parseLayerMap(r.stdout);
    });
  }

  async prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk> {
    const dir = diskDir(this.root, disk);
    const known = new Set([disk, ...declared.filter((d) => diskDir(this.root, d) === dir)]);
    const found = await this.observeDir(dir, known);
    const observed = found.disks[disk] ?? { name: disk, storage: this.storage, layers: [] };
    await this.fillHeaders([observed]);
    return observed;
  }

  async readDiskDependants(disk: ObservedDisk): Promise<void> {
    await this.fillDependants([disk]);
  }

  private async fillDependants(disks: readonly ObservedDisk[]): Promise<void> {
    await findDirDependants(this.exec, this.root, disks, (d, n) => join(diskDir(this.root, d), n));
  }

  async releaseDisk(): Promise<void> {}

  async layersInUse(disk: ObservedDisk, names: readonly string[]): Promise<string[]> {
    const layers = disk.layers.filter((l) => names.includes(l.name) && l.header.state === 'read');
    // Without -U, qemu-img takes the image lock, which fails while a VM has the image open.
    const results = await this.exec.runBatch(
      layers.map((l) => ['qemu-img', 'info', '--output=json', '-f', 'qcow2', this.path(disk.name, l.ref)]),
    );
    return layers
      .filter((_, i) => results[i]?.failed && /lock/i.test(results[i]?.stderr ?? ''))
      .map((l) => l.name);
  }

  describe(disk: string, step: Step): StepDescription {
    const name = (ref: LayerRef) => layerFileName(disk, ref);
    const path = (ref: LayerRef) => this.path(disk, ref);
    switch (step.kind) {
      case 'set_meta':
        return {
          description: `${step.purpose === 'record_intent' ? 'record intent on' : step.purpose === 'finish' ? 'finish metadata of' : 'update metadata of'} ${name(step.layer)}`,
          commands: [],
        };
      case 'allocate':
        return { description: `allocate ${name(step.layer)} (sidecar entry and empty file)`, commands: [] };
      case 'wipe':
        throw new LvchainError('plan_invalid', `wipe is not available on directory storage ${this.storage}`);
      case 'format': {
        const argv = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', QCOW2_OPTIONS];
        if (step.backing) argv.push('-F', 'qcow2', '-b', name(step.backing));
        argv.push(path(step.layer), String(step.virtual_size));
        return {
          description: `format ${name(step.layer)}${step.backing ? ` on ${name(step.backing)}` : ''}`,
          commands: [argv],
        };
      }
      case 'extend':
        return { description: `${name(step.layer)} grows as a file; nothing to extend`, commands: [] };
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
              path(step.layer),
              String(step.virtual_size),
            ],
          ],
        };
      case 'rename':
        return { description: `rename ${name(step.from)} to ${name(step.to)}`, commands: [] };
      case 'commit':
        return {
          description: `commit ${name(step.layer)} into ${name(step.into)} (${step.bytes} bytes)`,
          commands: [
            ['qemu-img', 'commit', '-p', '-f', 'qcow2', '-d', '-b', path(step.into), path(step.layer)],
          ],
        };
      case 'stream': {
        // Write-through: qemu-img switches the backing file before it flushes its cached L2
        // tables, so a kill in between would lose the streamed data (crash harness, QEMU 7.2).
        const argv = ['qemu-img', 'rebase', '-p', '-t', 'writethrough', '-f', 'qcow2'];
        argv.push(...(step.onto ? ['-F', 'qcow2', '-b', name(step.onto)] : ['-b', '']), path(step.layer));
        return {
          description: `stream ${name(step.from)} into ${name(step.layer)} (${step.bytes} bytes), new backing ${step.onto ? name(step.onto) : 'none'}`,
          commands: [argv],
        };
      }
      case 'remove':
        return { description: `remove ${name(step.layer)}`, commands: [] };
      case 'create_vg':
        throw new LvchainError('plan_invalid', `${this.storage} is a directory, not a volume group`);
    }
  }

  async execute(disk: string, step: Step, onProgress?: (fraction: number) => void): Promise<void> {
    const dir = diskDir(this.root, disk);
    const name = (ref: LayerRef) => layerFileName(disk, ref);
    const run = async (what: string) => {
      for (const argv of this.describe(disk, step).commands) {
        ok(await this.exec.run(argv, { onStdout: progressParser(onProgress) }), what);
      }
    };
    switch (step.kind) {
      case 'set_meta':
        await updateSidecar(dir, disk, (layers) => {
          layers[name(step.layer)] = step.meta;
        });
        return;
      case 'allocate': {
        await mkdir(dir, { recursive: true });
        // mkdir succeeds on a link to a directory: the file below must not land through one.
        for (const d of [imagesDir(this.root), dir]) {
          const kind = await kindOf(d);
          if (kind !== undefined && kind !== 'directory')
            throw new LvchainError('drift', notRegular(d, kind));
        }
        await updateSidecar(dir, disk, (layers) => {
          layers[name(step.layer)] = step.meta;
        });
        await writeFile(join(dir, name(step.layer)), '', { flag: 'wx' });
        await fsyncDir(dir);
        return;
      }
      case 'wipe':
      case 'extend':
      case 'create_vg':
        this.describe(disk, step);
        return;
      case 'format':
      case 'resize':
      case 'commit':
      case 'stream':
        await run(`${step.kind} of ${describeRef(step.layer)} of ${disk}`);
        return;
      case 'rename': {
        const from = join(dir, name(step.from));
        const to = join(dir, name(step.to));
        if (await exists(to))
          throw new LvchainError(
            'drift',
            `cannot rename ${name(step.from)}: ${name(step.to)} already exists`,
          );
        const meta = (await readSidecar(dir, disk))?.layers[name(step.from)];
        // Metadata first under both names, then the file, then drop the old name: at every
        // instant the file's current name has its metadata.
        if (meta) await updateSidecar(dir, disk, (layers) => void (layers[name(step.to)] = meta));
        await rename(from, to);
        await fsyncDir(dir);
        await updateSidecar(dir, disk, (layers) => void delete layers[name(step.from)]);
        return;
      }
      case 'remove': {
        await unlink(join(dir, name(step.layer))).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        await fsyncDir(dir);
        await updateSidecar(dir, disk, (layers) => void delete layers[name(step.layer)]);
        return;
      }
    }
  }
}

export async function measureSizes(
  exec: Executor,
  sizes: readonly number[],
): Promise<Record<number, Measurement>> {
  const unique = [...new Set(sizes)].sort((a, b) => a - b);
  const results = await exec.runBatch(unique.map(measureArgv));
  const out: Record<number, Measurement> = {};
  unique.forEach((size, i) => {
    out[size] = parseMeasure(
      ok(results[i] as NonNullable<(typeof results)[number]>, `qemu-img measure ${size}`).stdout,
    );
  });
  return out;
}

async function nearestExisting(path: string): Promise<string> {
  let p = path;
  for (;;) {
    if (await exists(p)) return p;
    const parent = dirname(p);
    if (parent === p) return p;
    p = parent;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listDirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(path, e.name));
  } catch {
    return [];
  }
}

type EntryKind =
  'file' | 'directory' | 'symbolic link' | 'FIFO' | 'character device' | 'block device' | 'socket';

interface Entry {
  name: string;
  kind: EntryKind;
  bytes: number;
  born: string;
}

function kindOfStats(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'socket';
}

/** What is at a path, the path itself and not what a link names; undefined if nothing is. */
async function kindOf(path: string): Promise<EntryKind | undefined> {
  try {
    return kindOfStats(await lstat(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function notRegular(path: string, kind: EntryKind): string {
  const what =
    kind === 'directory'
      ? 'a directory, not a regular file'
      : `a ${kind}, not a ${kind === 'symbolic link' ? 'real file or directory' : 'regular file'}`;
  return `${path} is ${what}; lvchain does not follow links or open special files on a storage`;
}

/** Every entry of a directory, by lstat: links are reported as links, never followed. */
async function listEntries(dir: string): Promise<Entry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const name of names.sort((a, b) => a.localeCompare(b))) {
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (!st) continue;
    // Birth time where the filesystem records it, else the last change of the inode.
    const born = st.birthtimeMs > 0 ? st.birthtime : st.ctime;
    out.push({
      name,
      kind: kindOfStats(st),
      bytes: st.isFile() ? st.blocks * 512 : 0,
      born: born.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
  }
  return out;
}
