/**
 * Two Proxmox VE "nodes" on one shared disk (DESIGN §11): the lab VM booted twice over the same
 * disk file, named `pve1` and `pve2` (their host names, as Proxmox's node names are), each with
 * the `qm` stand-in (`test/lab/qm`, NOT Proxmox's qm) on its PATH. There is no pmxcfs: the
 * caller writes the same node tree into `/etc/pve` on both (`writeTree`), which stands in for
 * the cluster file system every node shares. No lvmlockd either, as on Proxmox.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type LabVm } from './vm.js';

export const QM_STANDIN = join(dirname(fileURLToPath(import.meta.url)), 'qm');

export interface TwoNodes {
  pve1: LabVm;
  pve2: LabVm;
  /** Write files (path under /etc/pve → content) on both nodes, as pmxcfs would show them. */
  writeTree(files: Record<string, string>): Promise<void>;
  /** pve2 first: pve1 owns the shared disk file and removes it. */
  stop(): Promise<void>;
}

async function must(vm: LabVm, argv: string[], input?: string): Promise<string> {
  const r = await vm.run(argv, input !== undefined ? { input } : {});
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed on a lab node (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Put the `qm` stand-in (status, and snapshot/delsnapshot/rollback of a stopped VM) on a lab
 * VM's PATH, where Proxmox has its qm.
 */
export async function installQmStandIn(vm: LabVm): Promise<void> {
  await must(
    vm,
    ['sh', '-c', 'cat > /usr/sbin/qm && chmod 755 /usr/sbin/qm'],
    readFileSync(QM_STANDIN, 'utf8'),
  );
}

async function becomeNode(vm: LabVm, name: string): Promise<void> {
  await must(vm, ['hostname', name]);
  await installQmStandIn(vm);
  // pmxcfs always has priv/; cfs_lock_storage makes only priv/lock/ itself.
  await must(vm, ['mkdir', '-p', '/etc/pve/priv', '/var/run/qemu-server']);
}

export async function startTwoNodes(sizeMiB: number, bootTimeoutMs: number): Promise<TwoNodes> {
  const pve1 = await startLab({ disks: [{ sizeMiB }], bootTimeoutMs });
  let pve2: LabVm | undefined;
  try {
    pve2 = await startLab({ disks: [{ file: pve1.diskFiles[0] as string, sizeMiB }], bootTimeoutMs });
    await becomeNode(pve1, 'pve1');
    await becomeNode(pve2, 'pve2');
  } catch (e) {
    await pve2?.stop();
    await pve1.stop();
    throw e;
  }
  const nodes = [pve1, pve2];
  return {
    pve1,
    pve2,
    async writeTree(files) {
      for (const vm of nodes)
        for (const [path, content] of Object.entries(files))
          await must(
            vm,
            ['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'write', `/etc/pve/${path}`],
            content,
          );
    },
    async stop() {
      await pve2?.stop();
      await pve1.stop();
    },
  };
}
