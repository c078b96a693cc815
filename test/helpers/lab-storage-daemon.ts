/**
 * qemu-storage-daemon (or a machine-less qemu-system-x86_64) inside the lab VM, standing in for a
 * VM's QEMU on an LVM host: it holds the chain's LVs open as a VM does, and its NBD exports stand
 * in for the guest's writes. It is reached as production reaches it: its QMP socket through
 * lvchain's ssh relay (socat). The test stops it by PID, also when it fails.
 */
import type { LabVm } from '../lab/vm.js';
import { must } from './lvmlab.js';

export interface LabStorageDaemon {
  /** QMP socket path inside the VM. */
  qmp: string;
  /** NBD URI (inside the VM) the "guest" writes a disk through. */
  nbd(disk: string): string;
  /** The file (inside the VM) the "guest" reads and writes a disk through (exports: 'fuse'). */
  fuse(disk: string): string;
  pid: number;
  stop(): Promise<void>;
}

export interface LabDaemonOptions {
  /**
   * `system`: qemu-system-x86_64 with no machine instead of the daemon. It holds the same graph
   * and NBD exports but can also pause its (absent) guest, as the live engine's commit of the top
   * needs.
   */
  process?: 'daemon' | 'system';
  /**
   * `fuse` where the guest must see the disk grow: an NBD server forbids `block_resize` on the
   * node it exports, as a virtio-blk device does not (the daemon only).
   */
  exports?: 'nbd' | 'fuse';
}

export async function startLabStorageDaemon(
  vm: LabVm,
  id: string,
  tops: Record<string, string>,
  { process = 'daemon', exports: kind = 'nbd' }: LabDaemonOptions = {},
): Promise<LabStorageDaemon> {
  const dir = `/run/lvchain-test/${id}`;
  const qmp = `${dir}/qmp.sock`;
  const nbd = `${dir}/nbd.sock`;
  const pidfile = `${dir}/qsd.pid`;
  const system = process === 'system';
  if (system && kind !== 'nbd') throw new Error('the system emulator stand-in exports NBD only');
  const dash = system ? '-' : '--';
  const window = (disk: string) => `${dir}/${disk}.fuse`;
  await must(vm, ['mkdir', '-p', dir]);
  if (kind === 'fuse') await must(vm, ['touch', ...Object.keys(tops).map(window)]);
  const args = system
    ? ['-machine', 'none', '-nodefaults', '-display', 'none']
    : ['--nbd-server', `addr.type=unix,addr.path=${nbd}`];
  // The system emulator has no command-line exports: they go over QMP once it runs.
  const exports: string[] = [];
  for (const [disk, top] of Object.entries(tops)) {
    args.push(`${dash}blockdev`, `driver=host_device,node-name=${disk}-file,filename=${top}`);
    args.push(`${dash}blockdev`, `driver=qcow2,node-name=${disk}-top,file=${disk}-file`);
    if (system)
      exports.push(
        JSON.stringify({
          execute: 'block-export-add',
          arguments: { type: 'nbd', id: disk, 'node-name': `${disk}-top`, name: disk, writable: true },
        }),
      );
    else if (kind === 'nbd')
      args.push('--export', `type=nbd,id=${disk},node-name=${disk}-top,name=${disk},writable=on`);
    else
      args.push(
        '--export',
        `type=fuse,id=${disk},node-name=${disk}-top,mountpoint=${window(disk)},writable=on`,
      );
  }
  args.push(
    `${dash}chardev`,
    `socket,path=${qmp},server=on,wait=off,id=mon0`,
    system ? '-mon' : '--monitor',
    system ? 'chardev=mon0,mode=control' : 'chardev=mon0',
  );
  const program = system ? 'qemu-system-x86_64' : 'qemu-storage-daemon';
  await must(vm, [program, system ? '-daemonize' : '--daemonize', `${dash}pidfile`, pidfile, ...args]);
  const pid = Number((await must(vm, ['cat', pidfile])).stdout.trim());
  const daemon: LabStorageDaemon = {
    qmp,
    pid,
    nbd: (disk) => `nbd+unix:///${disk}?socket=${nbd}`,
    fuse: window,
    async stop() {
      await vm.run([
        'sh',
        '-c',
        'kill "$1" 2>/dev/null; for i in $(seq 50); do kill -0 "$1" 2>/dev/null || exit 0; sleep 0.1; done; kill -9 "$1"',
        'stop',
        String(pid),
      ]);
      // A killed daemon leaves its FUSE mounts behind.
      if (kind === 'fuse') for (const disk of Object.keys(tops)) await vm.run(['umount', '-l', window(disk)]);
      await vm.run(['rm', '-rf', dir]);
    },
  };
  if (system) {
    const messages = [
      JSON.stringify({ execute: 'qmp_capabilities' }),
      JSON.stringify({
        execute: 'nbd-server-start',
        arguments: { addr: { type: 'unix', data: { path: nbd } } },
      }),
      ...exports,
    ];
    const script = `printf '%s\\n' "$@" | socat -t 2 - UNIX-CONNECT:"$0"`;
    const r = await vm.run(['sh', '-c', script, qmp, ...messages]);
    const errors = r.stdout.split('\n').filter((l) => l.includes('"error"'));
    if (r.exitCode !== 0 || errors.length > 0) {
      await daemon.stop();
      throw new Error(`${program} in the lab VM refused its NBD exports: ${errors.join('\n') || r.stderr}`);
    }
  }
  return daemon;
}

/** Write a pattern through the daemon's export, as the guest would. */
export async function labGuestWrite(
  vm: LabVm,
  uri: string,
  offset: number,
  length: number,
  pattern: number,
): Promise<void> {
  await must(vm, ['qemu-io', '-f', 'raw', '-c', `write -P ${pattern} ${offset} ${length}`, uri]);
}

/** sha256 of what the guest reads now through the export. */
export async function labGuestView(vm: LabVm, uri: string): Promise<string> {
  const script = `set -e; t=$(mktemp); trap 'rm -f "$t"' EXIT; qemu-img convert -f raw -O raw "$1" "$t"; sha256sum "$t" | cut -d' ' -f1`;
  return (await must(vm, ['sh', '-c', script, 'view', uri])).stdout.trim();
}
