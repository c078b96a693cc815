/**
 * The command line of a QEMU that holds disks' tops open as a VM does, with an export per disk
 * standing in for the guest: qemu-storage-daemon, or a machine-less qemu-system-x86_64, which
 * can also pause its (absent) guest, as a commit of the top needs. Shared by the QEMU run on
 * this machine (storage-daemon.ts) and the one run in the lab VM (lab-storage-daemon.ts).
 */

export interface HolderSpec {
  /** Each disk's top image. */
  tops: Record<string, string>;
  process: 'daemon' | 'system';
  /**
   * `fuse` where the guest must see the disk grow: an NBD server forbids `block_resize` on the
   * node it exports, as a virtio-blk device does not (the daemon only).
   */
  exports: 'nbd' | 'fuse';
  /** QEMU's protocol driver: `file` for an image file, `host_device` for an LV. */
  protocol: 'file' | 'host_device';
  qmp: string;
  nbd: string;
  /** The file a disk's FUSE export is mounted on. */
  window(disk: string): string;
}

export interface HolderCommand {
  program: 'qemu-storage-daemon' | 'qemu-system-x86_64';
  /** Everything but how to run in the background (the callers differ). */
  args: string[];
  /** The system emulator has no command-line exports: these QMP messages add them once it runs. */
  exportMessages: { execute: string; arguments: Record<string, unknown> }[];
}

export function holderCommand(spec: HolderSpec): HolderCommand {
  const system = spec.process === 'system';
  if (system && spec.exports !== 'nbd') throw new Error('the system emulator stand-in exports NBD only');
  const dash = system ? '-' : '--';
  // The NBD server must exist before the exports that use it.
  const args = system
    ? ['-machine', 'none', '-nodefaults', '-display', 'none']
    : ['--nbd-server', `addr.type=unix,addr.path=${spec.nbd}`];
  const exportMessages: HolderCommand['exportMessages'] = system
    ? [{ execute: 'nbd-server-start', arguments: { addr: { type: 'unix', data: { path: spec.nbd } } } }]
    : [];
  for (const [disk, top] of Object.entries(spec.tops)) {
    args.push(`${dash}blockdev`, `driver=${spec.protocol},node-name=${disk}-file,filename=${top}`);
    args.push(`${dash}blockdev`, `driver=qcow2,node-name=${disk}-top,file=${disk}-file`);
    const node = `node-name=${disk}-top`;
    if (system)
      exportMessages.push({
        execute: 'block-export-add',
        arguments: { type: 'nbd', id: disk, 'node-name': `${disk}-top`, name: disk, writable: true },
      });
    else if (spec.exports === 'nbd')
      args.push('--export', `type=nbd,id=${disk},${node},name=${disk},writable=on`);
    else args.push('--export', `type=fuse,id=${disk},${node},mountpoint=${spec.window(disk)},writable=on`);
  }
  args.push(
    `${dash}chardev`,
    `socket,path=${spec.qmp},server=on,wait=off,id=mon0`,
    system ? '-mon' : '--monitor',
    system ? 'chardev=mon0,mode=control' : 'chardev=mon0',
  );
  return { program: system ? 'qemu-system-x86_64' : 'qemu-storage-daemon', args, exportMessages };
}
