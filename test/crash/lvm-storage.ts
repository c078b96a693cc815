/**
 * Thick LVM in a lab VM, over real ssh, for the crash harness. A fixture is the whole PV: it
 * is saved and restored by copying the VM's disk file on the host while every LV of the VG
 * is deactivated (one `vgchange` on each side of a sparse copy, instead of the dozens of LVM
 * commands that rebuilding a chain costs under TCG). Both lab VMs restore the same files.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { LabVm } from '../lab/vm.js';
import { LvmLab, must } from '../helpers/lvmlab.js';
import type { CrashStorage, KillMode } from './harness.js';

/** LV name of a layer → its key: `top`, a snapshot name, or the LV name for anything else. */
function layerKey(disk: string, lv: string): string | undefined {
  if (lv === `${disk}.qcow2`) return 'top';
  const prefix = `snap_${disk}_`;
  if (lv.startsWith(prefix) && lv.endsWith('.qcow2')) return lv.slice(prefix.length, -'.qcow2'.length);
  if (lv.startsWith('del-') && layerKey(disk, lv.slice(4)) !== undefined) return lv;
  return undefined;
}

/** Every LV's view, `<lv> <md5>` per line (md5: half the cost of sha256 under TCG). */
const VIEWS = `vg=$1; t=$(mktemp); trap 'rm -f "$t"' EXIT
for lv in $(lvs --noheadings -o lv_name "$vg"); do
  [ -e "/dev/$vg/$lv" ] || lvchange -ay "$vg/$lv" >/dev/null 2>&1
  if qemu-img convert -U -f qcow2 -O raw "/dev/$vg/$lv" "$t" 2>/dev/null; then
    echo "$lv $(md5sum < "$t" | cut -d' ' -f1)"
  else echo "$lv unreadable"; fi
done`;

/** Deactivates the VG (and any device-mapper node it left) so the PV can be copied. */
const QUIESCE = `vg=$1; dev=$2
vgs "$vg" >/dev/null 2>&1 && { vgchange -an "$vg" >/dev/null || exit 1; }
for d in $(dmsetup ls 2>/dev/null | cut -f1 | grep "^$vg-"); do dmsetup remove "$d" || exit 1; done
sync; blockdev --flushbufs "$dev"`;

/** Processes of an lvchain run that must not outlive it. */
const SURVIVORS = `ps -o pid,args | grep -E 'qemu-img|qemu-io|lvcreate|lvchange|lvremove|lvrename|lvextend|lvs|vgs|blkdiscard|lvchain-|[c]at$' | grep -v -E 'grep|ps -o'`;

export class LvmStorage implements CrashStorage {
  readonly backend = 'lvm' as const;
  readonly digest = 'md5' as const;
  readonly dataMoveKills = [
    { at: 'mid', mode: 'group' },
    { at: 'end', mode: 'group' },
    { at: 'mid', mode: 'ssh-connection' },
  ] as const satisfies readonly { at: 'mid' | 'end'; mode: KillMode }[];

  private constructor(
    readonly label: string,
    private readonly vm: LabVm,
    private readonly lab: LvmLab,
    private readonly fixtureDir: string,
  ) {}

  /** `create`: make the VG on the VM's first disk and save it as the `blank` fixture. */
  static async create(
    label: string,
    vm: LabVm,
    vg: string,
    fixtureDir: string,
    create: boolean,
  ): Promise<LvmStorage> {
    const lab = await LvmLab.create(vm, vg, vm.devices[0], create);
    const s = new LvmStorage(label, vm, lab, fixtureDir);
    await mkdir(s.tmp, { recursive: true });
    await mkdir(fixtureDir, { recursive: true });
    if (create) await s.saveFixture('blank');
    return s;
  }

  get storage(): string {
    return this.lab.vg;
  }

  get workdir(): string {
    return this.lab.dir;
  }

  get configPath(): string {
    return this.lab.configPath;
  }

  /** lvchain's TMPDIR: its ssh ControlMaster sockets land here, where the harness finds them. */
  private get tmp(): string {
    return join(this.lab.dir, 'tmp');
  }

  storageConfig(): Record<string, unknown> {
    return { hosts: this.lab.host(), volumeGroups: { [this.lab.vg]: { host: 'lab' } } };
  }

  env(): Record<string, string> {
    return { TMPDIR: this.tmp };
  }

  private async qemuIo(disk: string, command: string): Promise<void> {
    await must(this.vm, ['qemu-io', '-f', 'qcow2', '-c', command, this.lab.dev(`${disk}.qcow2`)]);
  }

  write(disk: string, offset: number, length: number, pattern: number): Promise<void> {
    return this.qemuIo(disk, `write -P 0x${pattern.toString(16)} ${offset} ${length}`);
  }

  zero(disk: string, offset: number, length: number): Promise<void> {
    return this.qemuIo(disk, `write -z ${offset} ${length}`);
  }

  private async layers(
    disks: readonly string[],
  ): Promise<{ disk: string; key: string; lv: string; tags: string[] }[]> {
    const out: { disk: string; key: string; lv: string; tags: string[] }[] = [];
    for (const [lv, row] of await this.lab.lvs())
      for (const disk of disks) {
        const key = layerKey(disk, lv);
        if (key !== undefined) out.push({ disk, key, lv, tags: row.tags });
      }
    return out.sort((a, b) => a.lv.localeCompare(b.lv));
  }

  /** One ssh call: every LV of the VG (the fixtures hold only the scenario's disks). */
  async views(disks: readonly string[]): Promise<Map<string, string>> {
    const r = await must(this.vm, ['sh', '-c', VIEWS, 'views', this.lab.vg]);
    const out = new Map<string, string>();
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const [lv, digest] = line.split(' ') as [string, string];
      for (const disk of disks) {
        const key = layerKey(disk, lv);
        if (key !== undefined) out.set(`${disk}:${key}`, digest);
      }
    }
    return out;
  }

  async leftovers(disks: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const l of await this.layers(disks)) {
      for (const t of l.tags) {
        if (t.startsWith('lvchain.intent='))
          out.push(`intent ${t.slice('lvchain.intent='.length)} on ${l.lv}`);
        if (t === 'lvchain.incomplete') out.push(`${l.lv} marked incomplete`);
      }
      if (l.lv.startsWith('del-')) out.push(`${l.lv} renamed aside`);
    }
    return out;
  }

  private fixture(id: string): string {
    return join(this.fixtureDir, `${id}.raw`);
  }

  private async quiesce(): Promise<void> {
    const r = await this.vm.run(['sh', '-c', QUIESCE, 'quiesce', this.lab.vg, this.vm.devices[0] as string]);
    if (r.exitCode !== 0) {
      const ps = await this.vm.run(['sh', '-c', SURVIVORS]);
      throw new Error(
        `${this.label}: cannot deactivate ${this.lab.vg}: ${r.stderr.trim()}\nrunning: ${ps.stdout.trim()}`,
      );
    }
  }

  async saveFixture(id: string): Promise<void> {
    await this.quiesce();
    await execa('cp', ['--sparse=always', this.vm.diskFiles[0] as string, this.fixture(id)]);
    await must(this.vm, ['vgchange', '-ay', this.lab.vg]);
  }

  async restoreFixture(id: string): Promise<void> {
    await this.quiesce();
    await execa('cp', ['--sparse=always', this.fixture(id), this.vm.diskFiles[0] as string]);
    await must(this.vm, ['vgchange', '-ay', this.lab.vg]);
  }

  /** lvchain's processes in the VM after a kill; they get a moment to die, then are reported. */
  async survivors(): Promise<string[]> {
    const t0 = performance.now();
    let left: string[] = [];
    for (;;) {
      const r = await this.vm.run(['sh', '-c', SURVIVORS]);
      left = r.stdout.trim().split('\n').filter(Boolean);
      if (left.length === 0 || performance.now() - t0 > 2000) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    return left.map(
      (l) => `${l.trim()} (still running ${((performance.now() - t0) / 1000).toFixed(1)} s after the kill)`,
    );
  }

  /** ssh ControlMaster sockets of lvchain runs (a killed run leaves its master behind). */
  private async masters(): Promise<{ socket: string; pid?: number }[]> {
    const out: { socket: string; pid?: number }[] = [];
    for (const d of await readdir(this.tmp).catch(() => [] as string[])) {
      if (!d.startsWith('lvchain-ssh-')) continue;
      for (const sock of await readdir(join(this.tmp, d)).catch(() => [] as string[])) {
        const socket = join(this.tmp, d, sock);
        const r = await execa('ssh', ['-o', `ControlPath=${socket}`, '-O', 'check', 'lab'], {
          reject: false,
        });
        const pid = /pid=(\d+)/.exec(r.stderr)?.[1];
        out.push({ socket, ...(pid ? { pid: Number(pid) } : {}) });
      }
    }
    return out;
  }

  /** The ControlMasters of the running lvchain: ssh moved them out of its process group. */
  async killConnection(): Promise<void> {
    for (const m of await this.masters()) if (m.pid) process.kill(m.pid, 'SIGKILL');
  }

  async cleanupAfterKill(): Promise<void> {
    for (const m of await this.masters()) {
      try {
        if (m.pid) process.kill(m.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const d of await readdir(this.tmp).catch(() => [] as string[]))
      await rm(join(this.tmp, d), { recursive: true, force: true });
  }
}
