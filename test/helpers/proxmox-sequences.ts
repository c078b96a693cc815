/**
 * Proxmox VE 9's storage side of snapshot create, delete and rollback on a qcow2 chain
 * (`snapshot-as-volume-chain`), replayed command for command as the reference gives them
 * (../shared/reference/proxmox-ve9-volume-chain.md §4.1, §5.1, §6, activation §8), offline
 * and without saferemove: what `qm snapshot|delsnapshot|rollback` run on a stopped VM's disk.
 * Proxmox is not installed here; these are its argv, run on the real LVs of the lab VM, or its
 * file operations on a directory storage here. Its cluster storage lock is left out: nothing
 * else changes the storage while a test replays them.
 */
import { rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { LabVm } from '../lab/vm.js';
import { must } from './lvmlab.js';

/** The options Proxmox formats every new top of a chain with. */
const NEW_TOP_OPTIONS = 'extended_l2=on,cluster_size=128k,preallocation=metadata';

export class ProxmoxSequences {
  constructor(
    private readonly vm: LabVm,
    private readonly vg: string,
    /** The volume name without `.qcow2`, `vm-<vmid>-disk-<n>` as lvchain names its disks. */
    private readonly name: string,
  ) {}

  private get vmid(): string {
    const m = /^vm-(\d+)-/.exec(this.name);
    if (!m) throw new Error(`${this.name} is not a Proxmox volume name`);
    return m[1] as string;
  }

  private lv(snap: string | 'current'): string {
    return snap === 'current' ? `${this.name}.qcow2` : `snap_${this.name}_${snap}.qcow2`;
  }

  private dev(snap: string | 'current'): string {
    return `/dev/${this.vg}/${this.lv(snap)}`;
  }

  /** §8 `activate_volume`: the whole chain by regex, then a refresh. */
  async activate(): Promise<void> {
    const select = `vg_name = "${this.vg}" && lv_name =~ '^(${this.name}|snap_${this.name}_.+)\\.qcow2$'`;
    await must(this.vm, ['/sbin/lvchange', '-aey', '--select', select]);
    await must(this.vm, ['/sbin/lvchange', '--refresh', '--select', select]);
  }

  /** `lvrename()`: `lvs` first, which must not find the target. */
  private async lvrename(from: string, to: string): Promise<void> {
    const exists = await this.vm.run(['/sbin/lvs', `${this.vg}/${to}`]);
    if (exists.exitCode === 0) throw new Error(`Proxmox would refuse: ${to} exists`);
    await must(this.vm, ['/sbin/lvrename', this.vg, from, to]);
  }

  /** `free_snap_image_locked` without saferemove. */
  private async free(snap: string | 'current'): Promise<void> {
    await must(this.vm, ['/sbin/lvremove', '-f', `${this.vg}/${this.lv(snap)}`]);
  }

  /** §4.1 step 3 `alloc_snap_image`: a new `current` LV sized by qemu-img measure, formatted on `snap`. */
  private async allocCurrent(snap: string): Promise<void> {
    const info = await must(this.vm, [
      '/usr/bin/qemu-img',
      'info',
      '--output=json',
      this.dev(snap),
      '-f',
      'qcow2',
    ]);
    const virtual = (JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'];
    const measured = await must(this.vm, [
      '/usr/bin/qemu-img',
      'measure',
      '--output=json',
      '--size',
      `${virtual / 1024}K`,
      '-O',
      'qcow2',
      '-o',
      'extended_l2=on,cluster_size=128k',
    ]);
    const full = (JSON.parse(measured.stdout) as { 'fully-allocated': number })['fully-allocated'];
    await must(this.vm, [
      '/sbin/lvcreate',
      '-aly',
      '-Wy',
      '--yes',
      '--size',
      `${full / 1024}k`,
      '--name',
      this.lv('current'),
      '--setautoactivation',
      'n',
      '--addtag',
      `pve-vm-${this.vmid}`,
      '--addtag',
      `@pve-${this.lv('current')}`,
      this.vg,
    ]);
    await this.activate();
    await must(this.vm, [
      '/usr/bin/qemu-img',
      'create',
      '-F',
      'qcow2',
      '-b',
      this.lv(snap),
      '-f',
      'qcow2',
      this.dev('current'),
      '-o',
      NEW_TOP_OPTIONS,
    ]);
  }

  /** §4.1 `volume_snapshot` offline: rename current to the snapshot, allocate a new current on it. */
  async snapshot(snap: string): Promise<void> {
    await this.activate();
    await this.lvrename(this.lv('current'), this.lv(snap));
    await this.allocCurrent(snap);
  }

  /**
   * §5.1 `volume_snapshot_delete` offline. `parent` undefined (the oldest snapshot): commit the
   * child into it, free the child, and rename the snapshot to the child's name. Otherwise:
   * safe rebase of the child onto the parent, then free the snapshot. Sizes are equal here, so
   * #7094's resize does not run.
   */
  async deleteSnapshot(snap: string, parent: string | undefined, child: string | 'current'): Promise<void> {
    await this.activate();
    if (parent === undefined) {
      await must(this.vm, ['/usr/bin/qemu-img', 'commit', this.dev(child)]);
      await this.free(child);
      await this.lvrename(this.lv(snap), this.lv(child));
      return;
    }
    await must(this.vm, [
      '/usr/bin/qemu-img',
      'rebase',
      '-b',
      this.lv(parent),
      '-F',
      'qcow2',
      '-f',
      'qcow2',
      this.dev(child),
    ]);
    await this.free(snap);
  }

  /** §6 `volume_snapshot_rollback`: free current, then allocate it again on the snapshot. */
  async rollback(snap: string): Promise<void> {
    await this.activate();
    await this.free('current');
    await this.allocCurrent(snap);
  }
}

/**
 * The same on a directory storage (`Plugin.pm`): the file operations the reference names in
 * §4.1, §5.1 and §6 (rename, unlink), and qemu-img with a relative backing name.
 */
export class ProxmoxDirSequences {
  constructor(
    /** `images/<vmid>/` of the disk. */
    private readonly dir: string,
    private readonly name: string,
  ) {}

  private file(snap: string | 'current'): string {
    return snap === 'current' ? `${this.name}.qcow2` : `snap-${snap}-${this.name}.qcow2`;
  }

  private path(snap: string | 'current'): string {
    return join(this.dir, this.file(snap));
  }

  private async createCurrent(snap: string): Promise<void> {
    await execa('/usr/bin/qemu-img', [
      'create',
      '-F',
      'qcow2',
      '-b',
      this.file(snap),
      '-f',
      'qcow2',
      this.path('current'),
      '-o',
      NEW_TOP_OPTIONS,
    ]);
  }

  async snapshot(snap: string): Promise<void> {
    await rename(this.path('current'), this.path(snap));
    await this.createCurrent(snap);
  }

  /** Oldest: commit the child, then rename the snapshot onto the child (an atomic replace). Else: rebase, unlink. */
  async deleteSnapshot(snap: string, parent: string | undefined, child: string | 'current'): Promise<void> {
    if (parent === undefined) {
      await execa('/usr/bin/qemu-img', ['commit', this.path(child)]);
      await rename(this.path(snap), this.path(child));
      return;
    }
    await execa('/usr/bin/qemu-img', [
      'rebase',
      '-b',
      this.file(parent),
      '-F',
      'qcow2',
      '-f',
      'qcow2',
      this.path(child),
    ]);
    await unlink(this.path(snap));
  }

  async rollback(snap: string): Promise<void> {
    await unlink(this.path('current'));
    await this.createCurrent(snap);
  }
}
