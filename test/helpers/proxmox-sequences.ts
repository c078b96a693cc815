/**
 * Proxmox VE 9's storage side of snapshot create, delete and rollback on a qcow2 chain
 * (`snapshot-as-volume-chain`), replayed command for command as the reference gives them
 * (../shared/reference/proxmox-ve9-volume-chain.md §4.1, §5.1, §6, activation §8), offline
 * and without saferemove: what `qm snapshot|delsnapshot|rollback` run on a stopped VM's disk.
 * Proxmox is not installed here. On LVM these are the storage functions of the `qm` stand-in
 * (test/lab/qm), run in its library mode on the real LVs of the lab VM, so the sequence is
 * written once; the parent and child of a snapshot are read from the chain, as Proxmox reads
 * them. Its cluster storage lock is left out: nothing else changes the storage while a test
 * replays them (`qm` itself takes it). On a directory storage, its file operations here.
 */
import { readFileSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { LabVm } from '../lab/vm.js';

/** The options Proxmox formats every new top of a chain with. */
const NEW_TOP_OPTIONS = 'extended_l2=on,cluster_size=128k,preallocation=metadata';

/** The stand-in (too long for a command line: sent on stdin, then sourced). */
const QM_STANDIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'lab', 'qm');
const QM_LIBRARY_RUN =
  'f=$(mktemp) && cat > "$f" && QM_STANDIN_LIBRARY=1 && . "$f" && rm -f "$f" && fn=$1 && shift && "$fn" "$@" || { printf \'%s\\n\' "$ERR" >&2; exit 1; }';

export class ProxmoxSequences {
  constructor(
    private readonly vm: LabVm,
    private readonly vg: string,
    /** The volume name without `.qcow2`, `vm-<vmid>-disk-<n>` as lvchain names its disks. */
    private readonly name: string,
  ) {}

  /** One of the stand-in's `lvm_volume_snapshot*` functions on this disk; what it printed. */
  private async run(fn: string, snap: string): Promise<string> {
    const argv = ['sh', '-c', QM_LIBRARY_RUN, 'qm-library', fn, this.vg, `${this.name}.qcow2`, snap];
    const r = await this.vm.run(argv, { input: readFileSync(QM_STANDIN, 'utf8') });
    if (r.exitCode !== 0)
      throw new Error(
        `${fn} ${this.vg} ${this.name}.qcow2 ${snap} failed in the lab VM (${r.exitCode}): ${r.stderr}`,
      );
    return r.stdout;
  }

  /** §4.1 `volume_snapshot` offline: rename current to the snapshot, allocate a new current on it. */
  async snapshot(snap: string): Promise<void> {
    await this.run('lvm_volume_snapshot', snap);
  }

  /**
   * §5.1 `volume_snapshot_delete` offline. `parent` undefined (the oldest snapshot): commit the
   * child into it, free the child, and rename the snapshot to the child's name. Otherwise:
   * safe rebase of the child onto the parent, then free the snapshot. The stand-in finds parent
   * and child in the chain; they must be the ones the caller expects. Sizes are equal here, so
   * #7094's resize does not run.
   */
  async deleteSnapshot(snap: string, parent: string | undefined, child: string | 'current'): Promise<void> {
    const out = await this.run('lvm_volume_snapshot_delete', snap);
    const how =
      parent === undefined
        ? `deleting snapshot '${snap}' by commiting snapshot '${child}'`
        : `deleting snapshot '${snap}' by rebasing '${child}' on top of '${parent}'`;
    if (!out.includes(`${this.name}.qcow2: ${how}`))
      throw new Error(`Proxmox's delete of ${snap} did not go as expected (${how}):\n${out}`);
  }

  /** §6 `volume_snapshot_rollback`: free current, then allocate it again on the snapshot. */
  async rollback(snap: string): Promise<void> {
    await this.run('lvm_volume_snapshot_rollback', snap);
  }

  /**
   * A new disk as Proxmox allocates a qcow2 volume on LVM (`alloc_image`): an LV of qemu-img
   * measure's size (default options) with Proxmox's tags, formatted without extended L2.
   * Returns the KiB a new top of this size takes (with Proxmox's snapshot options).
   */
  async allocate(sizeKiB: number): Promise<number> {
    const measure = async (...opts: string[]) => {
      const argv = ['qemu-img', 'measure', '--output=json', '--size', `${sizeKiB}K`, '-O', 'qcow2', ...opts];
      const r = await this.vm.run(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed in the lab VM: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { 'fully-allocated': number })['fully-allocated'] / 1024;
    };
    const lv = `${this.name}.qcow2`;
    const vmid = /^vm-(\d+)-/.exec(this.name)?.[1];
    for (const argv of [
      [
        'lvcreate',
        '-aly',
        '-Wy',
        '--yes',
        '--size',
        `${await measure()}k`,
        '--name',
        lv,
        '--setautoactivation',
        'n',
        '--addtag',
        `pve-vm-${vmid}`,
        '--addtag',
        `@pve-${lv}`,
        this.vg,
      ],
      [
        'qemu-img',
        'create',
        '-o',
        'preallocation=metadata',
        '-f',
        'qcow2',
        `/dev/${this.vg}/${lv}`,
        `${sizeKiB}K`,
      ],
    ]) {
      const r = await this.vm.run(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed in the lab VM: ${r.stderr}`);
    }
    return measure('-o', 'extended_l2=on,cluster_size=128k');
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
