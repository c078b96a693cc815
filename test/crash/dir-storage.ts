/** The directory backend for the crash harness: a workspace (config + store) per pool slot. */
import { readdir, readFile, mkdir, rm } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { viewDigest, writePattern, writeZeroes } from '../helpers/data.js';
import { encodeIntent, type Intent } from '../../src/model/intent.js';
import type { CrashStorage, KillMode } from './harness.js';

/** Proxmox's dir layout: images/<vmid>/ (see DirLab). */
function diskDir(store: string, disk: string): string {
  const vmid = /^(?:vm|base)-(\d+)-/.exec(disk)?.[1] ?? disk;
  return join(store, 'images', vmid);
}

/** A layer file of `disk`: its key (`top`, a snapshot name, or the file name for anything else). */
function layerKey(disk: string, file: string): string | undefined {
  if (file === `${disk}.qcow2`) return 'top';
  const suffix = `-${disk}.qcow2`;
  if (file.startsWith('snap-') && file.endsWith(suffix)) return file.slice(5, -suffix.length);
  if (file.endsWith('.qcow2') && file.includes(disk)) return file;
  return undefined;
}

export class DirStorage implements CrashStorage {
  readonly backend = 'dir' as const;
  readonly storage = 'lab';
  readonly digest = 'sha256' as const;
  readonly dataMoveKills = [
    { at: 'mid', mode: 'group' },
    { at: 'end', mode: 'group' },
  ] as const satisfies readonly { at: 'mid' | 'end'; mode: KillMode }[];

  constructor(
    readonly label: string,
    readonly workdir: string,
    private readonly fixtureDir: string,
  ) {}

  get configPath(): string {
    return join(this.workdir, 'lvchain.yaml');
  }

  private get store(): string {
    return join(this.workdir, 'store');
  }

  async init(): Promise<void> {
    await mkdir(this.store, { recursive: true });
    await mkdir(this.fixtureDir, { recursive: true });
    if (!existsSync(join(this.fixtureDir, 'blank')))
      await mkdir(join(this.fixtureDir, 'blank'), { recursive: true });
  }

  storageConfig(): Record<string, unknown> {
    return { directories: { lab: { path: './store' } } };
  }

  env(): Record<string, string> {
    return {};
  }

  private top(disk: string): string {
    return join(diskDir(this.store, disk), `${disk}.qcow2`);
  }

  write(disk: string, offset: number, length: number, pattern: number): Promise<void> {
    return writePattern(this.top(disk), offset, length, pattern);
  }

  zero(disk: string, offset: number, length: number): Promise<void> {
    return writeZeroes(this.top(disk), offset, length);
  }

  private async files(disk: string): Promise<{ key: string; path: string; file: string }[]> {
    const dir = diskDir(this.store, disk);
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    return names
      .map((file) => ({ file, key: layerKey(disk, file), path: join(dir, file) }))
      .filter((x): x is { file: string; key: string; path: string } => x.key !== undefined)
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  async views(disks: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const disk of disks)
      for (const f of await this.files(disk)) {
        out.set(`${disk}:${f.key}`, await viewDigest(f.path).catch((e: Error) => `unreadable: ${e.message}`));
      }
    return out;
  }

  async leftovers(disks: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const disk of disks) {
      const files = await this.files(disk);
      let layers: Record<string, { intent?: Intent; incomplete?: boolean }> = {};
      try {
        const text = await readFile(join(diskDir(this.store, disk), `${disk}.lvchain.json`), 'utf8');
        layers = (JSON.parse(text) as { layers: typeof layers }).layers;
      } catch {
        /* no sidecar */
      }
      for (const f of files) {
        const meta = layers[f.file];
        if (meta?.intent) out.push(`intent ${encodeIntent(meta.intent)} on ${f.file}`);
        if (meta?.incomplete) out.push(`${f.file} marked incomplete`);
        if (f.file.startsWith('del-')) out.push(`${f.file} renamed aside`);
      }
    }
    return out;
  }

  async saveFixture(id: string): Promise<void> {
    const dst = join(this.fixtureDir, id);
    await rm(dst, { recursive: true, force: true });
    await execa('cp', ['-a', '--sparse=always', this.store, dst]);
  }

  async restoreFixture(id: string): Promise<void> {
    await rm(this.store, { recursive: true, force: true });
    await execa('cp', ['-a', '--sparse=always', join(this.fixtureDir, id), this.store]);
  }

  /** Local processes still touching this workspace (the process group kill should leave none). */
  /**
   * Processes of this workspace still running 2 s after the kill, as the LVM backend asks: a
   * process the group SIGKILL reached may take a moment to exit (a qemu-img in the middle of an
   * I/O), and is no survivor.
   */
  async survivors(): Promise<string[]> {
    const t0 = performance.now();
    let left: string[] = [];
    for (;;) {
      left = this.running();
      if (left.length === 0 || performance.now() - t0 > 2000) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    return left.map(
      (l) => `${l} (still running ${((performance.now() - t0) / 1000).toFixed(1)} s after the kill)`,
    );
  }

  private running(): string[] {
    const out: string[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        continue;
      }
      if (cmd.includes(this.workdir) && Number(pid) !== process.pid) out.push(`pid ${pid}: ${cmd}`);
    }
    return out;
  }

  async cleanupAfterKill(): Promise<void> {}

  async keep(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await execa('cp', ['-a', '--sparse=always', this.workdir, join(dir, 'workdir')]);
  }
}
