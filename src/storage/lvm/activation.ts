/**
 * Activation as Proxmox VE does it for a qcow2 chain (reference §8, fix #7143): the whole chain
 * by one `--select` on its LV names, then `--refresh` so this node reloads the size of an LV
 * another node extended, and `-aln` on the same selection afterwards. `-aey` is exclusive only
 * under a lock manager; without one it is a plain local activation, as on Proxmox's shared LVM.
 * Proxmox's selection does not match lvchain's `del-` layers of an interrupted merge: those
 * are named one by one.
 */
import type { Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';

/** `vg_name = "<vg>" && lv_name =~ '^(<disk>|snap_<disk>_.+)\.qcow2$'`: the disk's layers and no other disk's. */
export function chainSelection(vg: string, disk: string): string {
  // A disk name may hold dots, the one character of its alphabet a regex reads specially.
  const name = disk.replaceAll('.', '\\.');
  return `vg_name = "${vg}" && lv_name =~ '^(${name}|snap_${name}_.+)\\.qcow2$'`;
}

/** Activate and refresh the chain, then any `del-` layers (`vg/name`) by name. */
export function activateArgvs(vg: string, disk: string, trash: readonly string[] = []): string[][] {
  const select = chainSelection(vg, disk);
  return [
    ['lvchange', '-aey', '--select', select],
    ['lvchange', '--refresh', '--select', select],
    ...(trash.length > 0 ? [['lvchange', '-aey', ...trash]] : []),
  ];
}

export function deactivateArgvs(vg: string, disk: string, trash: readonly string[] = []): string[][] {
  return [
    ['lvchange', '-aln', '--select', chainSelection(vg, disk)],
    ...(trash.length > 0 ? [['lvchange', '-aln', ...trash]] : []),
  ];
}

async function runAll(exec: Executor, argvs: string[][], what: string): Promise<void> {
  for (const r of await exec.runBatch(argvs)) ok(r, what);
}

export function activateChain(
  exec: Executor,
  vg: string,
  disk: string,
  trash: readonly string[],
): Promise<void> {
  return runAll(exec, activateArgvs(vg, disk, trash), `activating ${disk}`);
}

export function deactivateChain(
  exec: Executor,
  vg: string,
  disk: string,
  trash: readonly string[],
): Promise<void> {
  return runAll(exec, deactivateArgvs(vg, disk, trash), `deactivating ${disk}`);
}
