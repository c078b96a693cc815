/**
 * qemu-storage-daemon inside the lab VM, standing in for a VM's QEMU on an LVM host: it holds
 * the chain's LVs open as a VM does, and its NBD exports stand in for the guest's writes. It is
 * reached as production reaches it: its QMP socket through lvchain's ssh relay (socat). The test
 * stops it by PID, also when it fails.
 */
import type { LabVm } from '../lab/vm.js';
import { must } from './lvmlab.js';

export interface LabStorageDaemon {
  /** QMP socket path inside the VM. */
  qmp: string;
  /** NBD URI (inside the VM) the "guest" writes a disk through. */
  nbd(disk: string): string;
  pid: number;
  stop(): Promise<void>;
}

export async function startLabStorageDaemon(
  vm: LabVm,
  id: string,
  tops: Record<string, string>,
): Promise<LabStorageDaemon> {
  const dir = `/run/lvchain-test/${id}`;
  const qmp = `${dir}/qmp.sock`;
  const nbd = `${dir}/nbd.sock`;
  const pidfile = `${dir}/qsd.pid`;
  await must(vm, ['mkdir', '-p', dir]);
  const args = ['--nbd-server', `addr.type=unix,addr.path=${nbd}`];
  for (const [disk, top] of Object.entries(tops)) {
    args.push('--blockdev', `driver=host_device,node-name=${disk}-file,filename=${top}`);
    args.push('--blockdev', `driver=qcow2,node-name=${disk}-top,file=${disk}-file`);
    args.push('--export', `type=nbd,id=${disk},node-name=${disk}-top,name=${disk},writable=on`);
  }
  args.push('--chardev', `socket,path=${qmp},server=on,wait=off,id=mon0`, '--monitor', 'chardev=mon0');
  await must(vm, ['qemu-storage-daemon', '--daemonize', '--pidfile', pidfile, ...args]);
  const pid = Number((await must(vm, ['cat', pidfile])).stdout.trim());
  return {
    qmp,
    pid,
    nbd: (disk) => `nbd+unix:///${disk}?socket=${nbd}`,
    async stop() {
      await vm.run([
        'sh',
        '-c',
        'kill "$1" 2>/dev/null; for i in $(seq 50); do kill -0 "$1" 2>/dev/null || exit 0; sleep 0.1; done; kill -9 "$1"',
        'stop',
        String(pid),
      ]);
      await vm.run(['rm', '-rf', dir]);
    },
  };
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
