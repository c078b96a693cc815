/** A throwaway directory storage and config in a temp dir, driven through the real CLI. */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { lvchain, type CliResult } from './cli.js';
import { TRASH_DIR } from '../../src/storage/dir/layout.js';

export interface DiskSpec {
  size: string;
  protect?: boolean;
  snapshots?: string[];
  policy?: string;
}

export class DirLab {
  private constructor(readonly root: string) {}

  static async create(prefix = 'lvchain-it-'): Promise<DirLab> {
    return new DirLab(await mkdtemp(join(tmpdir(), prefix)));
  }

  get configPath(): string {
    return join(this.root, 'lvchain.yaml');
  }

  get storePath(): string {
    return join(this.root, 'store');
  }

  /** Directory of a Proxmox-named disk's images. */
  diskDir(disk: string): string {
    const vmid = /^(?:vm|base)-(\d+)-/.exec(disk)?.[1] ?? disk;
    return join(this.storePath, 'images', vmid);
  }

  top(disk: string): string {
    return join(this.diskDir(disk), `${disk}.qcow2`);
  }

  snap(disk: string, snap: string): string {
    return join(this.diskDir(disk), `snap-${snap}-${disk}.qcow2`);
  }

  /** The names of a disk's snapshots, as its image files show them, sorted. */
  async snapshotsOf(disk: string): Promise<string[]> {
    const suffix = `-${disk}.qcow2`;
    return (await readdir(this.diskDir(disk)))
      .filter((f) => f.startsWith('snap-') && f.endsWith(suffix))
      .map((f) => f.slice('snap-'.length, -suffix.length))
      .sort();
  }

  async writeConfig(disks: Record<string, DiskSpec>, extra: Record<string, unknown> = {}): Promise<void> {
    const config = {
      version: 1,
      directories: { lab: { path: './store' } },
      ...extra,
      disks: Object.fromEntries(
        Object.entries(disks).map(([name, d]) => [
          name,
          {
            storage: 'lab',
            size: d.size,
            ...(d.protect ? { protect: true } : {}),
            ...(d.policy ? { policy: d.policy } : {}),
            ...(d.snapshots && d.snapshots.length > 0
              ? { snapshots: Object.fromEntries(d.snapshots.map((s) => [s, {}])) }
              : {}),
          },
        ]),
      ),
    };
    await writeFile(this.configPath, stringify(config));
  }

  async writeRawConfig(config: unknown): Promise<void> {
    await writeFile(this.configPath, stringify(config));
  }

  run(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    return lvchain(['-c', this.configPath, ...args], { cwd: this.root, env });
  }

  /** apply --auto-approve, failing the test with lvchain's output if it does not succeed. */
  async apply(...args: string[]): Promise<CliResult> {
    const r = await this.run(['apply', '--auto-approve', ...args]);
    if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  /** Every file under the storage with size and mtime, to prove that nothing changed. */
  async snapshotTree(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        // Removed layers pass through the trash while a detached rm frees them.
        if (e.name === TRASH_DIR) continue;
        if (e.isDirectory()) await walk(p);
        else {
          const st = await stat(p);
          out.push(`${p} ${st.size} ${st.mtimeMs}`);
        }
      }
    };
    await walk(this.root);
    return out.sort();
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
