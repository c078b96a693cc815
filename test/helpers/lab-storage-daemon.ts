/**
 * qemu-storage-daemon (or a machine-less qemu-system-x86_64) inside the lab VM, standing in for a
 * VM's QEMU on an LVM host: it holds the chain's LVs open as a VM does, and its NBD exports stand
 * in for the guest's writes. It is reached as production reaches it: its QMP socket through
 * lvchain's ssh relay (socat). The test stops it by PID, also when it fails.
 */
import type { LabVm } from '../lab/vm.js';
import { must } from './lvmlab.js';
import { holderCommand, type HolderSpec } from './qemu-holder.js';

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

export type LabDaemonOptions = Partial<Pick<HolderSpec, 'process' | 'exports'>>;

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
  const window = (disk: string) => `${dir}/${disk}.fuse`;
  const { program, args, exportMessages } = holderCommand({
    tops,
    process,
    exports: kind,
    protocol: 'host_device',
    qmp,
    nbd,
    window,
  });
  await must(vm, ['mkdir', '-p', dir]);
  if (kind === 'fuse') await must(vm, ['touch', ...Object.keys(tops).map(window)]);
  const background = process === 'system' ? ['-daemonize', '-pidfile'] : ['--daemonize', '--pidfile'];
  await must(vm, [program, ...background, pidfile, ...args]);
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
  // The system emulator's exports go over QMP, through socat as lvchain's relay does.
  if (exportMessages.length > 0) {
    const messages = [{ execute: 'qmp_capabilities' }, ...exportMessages].map((m) => JSON.stringify(m));
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
