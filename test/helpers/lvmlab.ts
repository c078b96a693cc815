/** A volume group in the lab VM, with an lvchain config that reaches it over real ssh. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labHostConfig, type LabVm } from '../lab/vm.js';
import { lvchain, type CliResult } from './cli.js';
import { SshExecutor } from '../../src/exec/ssh.js';

/** lvchain's own ssh executor, pointed at the lab VM with its pinned host key. */
export function labExecutor(vm: LabVm): SshExecutor {
  return new SshExecutor({
    host: '127.0.0.1',
    user: 'root',
    port: vm.port,
    identityFile: vm.identityFile,
    knownHosts: 'strict',
    knownHostsFile: vm.knownHostsFile,
  });
}

export class LvmLab {
  private constructor(
    readonly vm: LabVm,
    readonly vg: string,
    readonly dir: string,
  ) {}

  /** Creates the VG on `device` (unless `create` is false) and a temp dir for configs. */
  static async create(vm: LabVm, vg: string, device: string | undefined, create = true): Promise<LvmLab> {
    if (create && device) {
      await must(vm, ['pvcreate', '-y', device]);
      await must(vm, ['vgcreate', vg, device]);
    }
    return new LvmLab(vm, vg, await mkdtemp(join(tmpdir(), 'lvchain-lvm-')));
  }

  get configPath(): string {
    return join(this.dir, 'lvchain.yaml');
  }

  host(): Record<string, unknown> {
    return { lab: labHostConfig(this.vm) };
  }

  async writeConfig(body: Record<string, unknown>, vgOptions: Record<string, unknown> = {}): Promise<void> {
    await writeFile(
      this.configPath,
      stringify({
        version: 1,
        hosts: this.host(),
        volumeGroups: { [this.vg]: { host: 'lab', ...vgOptions } },
        ...body,
      }),
    );
  }

  run(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    return lvchain(['-c', this.configPath, ...args], { cwd: this.dir, env });
  }

  dev(lv: string): string {
    return `/dev/${this.vg}/${lv}`;
  }

  /** lvs rows of this VG: name → fields. */
  async lvs(): Promise<Map<string, { uuid: string; size: string; tags: string[]; attr: string }>> {
    const r = await must(this.vm, [
      'lvs',
      '--reportformat',
      'json',
      '--units',
      'b',
      '--nosuffix',
      '-o',
      'lv_name,lv_uuid,lv_size,lv_tags,lv_attr',
      this.vg,
    ]);
    const rows =
      (
        JSON.parse(r.stdout) as {
          report: {
            lv: { lv_name: string; lv_uuid: string; lv_size: string; lv_tags: string; lv_attr: string }[];
          }[];
        }
      ).report[0]?.lv ?? [];
    return new Map(
      rows.map((x) => [
        x.lv_name,
        {
          uuid: x.lv_uuid,
          size: x.lv_size,
          tags: x.lv_tags === '' ? [] : x.lv_tags.split(',').sort(),
          attr: x.lv_attr,
        },
      ]),
    );
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function must(vm: LabVm, argv: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await vm.run(argv);
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed in the lab VM (${r.exitCode}): ${r.stderr}`);
  return r;
}

/** Write one MiB of `pattern` at `offsetMiB` through qemu-io inside the VM (the whole chain, as a guest would). */
export function remoteWriteMiB(vm: LabVm, image: string, pattern: number, offsetMiB: number) {
  const MiB = 1024 * 1024;
  return must(vm, [
    'qemu-io',
    '-f',
    'qcow2',
    '-c',
    `write -P 0x${pattern.toString(16)} ${offsetMiB * MiB} ${MiB}`,
    image,
  ]);
}

/** sha256 of what an image shows, and how many bytes of it equal `marker`, read inside the VM. */
export async function remoteView(
  vm: LabVm,
  image: string,
  marker: number,
): Promise<{ digest: string; markers: number }> {
  const oct = `\\${marker.toString(8).padStart(3, '0')}`;
  const script = `set -e; t=$(mktemp); trap 'rm -f "$t"' EXIT; qemu-img convert -U -f qcow2 -O raw "$1" "$t"; sha256sum "$t" | cut -d' ' -f1; tr -dc '${oct}' < "$t" | wc -c`;
  const r = await must(vm, ['sh', '-c', script, 'view', image]);
  const [digest, markers] = r.stdout.trim().split('\n');
  return { digest: digest as string, markers: Number(markers) };
}
