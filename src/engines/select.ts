/**
 * The engine selector: which image engine may change a disk, from who holds its layers open.
 * The offline engine cannot act on an image another process holds: a disk that declares no VM
 * and is held is refused; one that declares a VM is judged by who holds it (judgeLive). The planner reads the verdict from the observed disk; apply asks again after it
 * re-observes the disk.
 */
import type { EngineVerdict, ObservedDisk } from '../model/observed.js';
import { layersHeldOpen } from '../model/observed.js';
import { offlineEngine } from './offline/index.js';
import type { DesiredVm } from '../model/desired.js';
import type { ImageSite } from './engine.js';
import type { Executor } from '../exec/executor.js';
import { QmpClient } from './qmp/client.js';
import { fileOf, qemuVersion, queryNodes } from './qmp/graph.js';
import { describeHolder, probeHolders } from './qmp/holders.js';
import { placementText } from '../model/proxmox.js';

export function selectEngine(held: readonly string[]): EngineVerdict {
  if (held.length === 0 || offlineEngine.actsOnImagesInUse)
    return { kind: 'engine', engine: offlineEngine.name };
  return { kind: 'refused', holders: [...held] };
}

/** Stamp each disk with the selector's verdict, from the layers observation saw held open. */
export function selectEngines(disks: Iterable<ObservedDisk>): void {
  for (const d of disks) {
    d.engine = selectEngine(layersHeldOpen(d));
  }
}

/**
 * For disks that declare a VM: ask who holds their layers. Held by the QEMU behind the declared
 * QMP socket (and that QEMU's graph names them) → the live engine; held by anything else → refused,
 * naming the holder; held by nobody → the offline engine, even though a VM is declared.
 */
export async function judgeLive(
  site: ImageSite,
  disks: readonly ObservedDisk[],
  vms: Readonly<Record<string, DesiredVm>>,
): Promise<void> {
  const declared = disks.filter((d) => vms[d.name] !== undefined);
  if (declared.length === 0) return;
  const pathsOf = (d: ObservedDisk) => d.layers.map((l) => ({ layer: l, path: site.path(d.name, l.ref) }));
  const report = await probeHolders(
    site.exec,
    declared.flatMap((d) => pathsOf(d).map((p) => p.path)),
    declared.map((d) => (vms[d.name] as DesiredVm).qmp),
  );
  for (const d of declared) {
    const vm = vms[d.name] as DesiredVm;
    const held = pathsOf(d).flatMap((p) =>
      (report.byPath.get(p.path) ?? []).map((h) => ({ ...p, holder: h })),
    );
    if (held.length === 0) {
      // Held by something the listing cannot name (an open LV seen as /dev/dm-N): still refused.
      if (d.engine?.kind !== 'refused') d.engine = { kind: 'engine', engine: 'offline' };
      continue;
    }
    const qemu = report.bySocket.get(vm.qmp) ?? [];
    const strangers = held.filter((h) => !qemu.includes(h.holder.pid));
    if (strangers.length > 0) {
      d.engine = {
        kind: 'refused',
        holders: strangers.map(
          (s) =>
            `${s.layer.name} is held by ${describeHolder(s.holder)}, ${qemu.length > 0 ? `not by the QEMU of ${vm.qmp} (pid ${qemu.join(', ')})` : `and nothing listens on the declared QMP socket ${vm.qmp}`}`,
        ),
      };
      continue;
    }
    const names = await graphNames(site.exec, vm.qmp).catch((e: unknown) =>
      e instanceof Error ? e : new Error(String(e)),
    );
    if (names instanceof Error) {
      d.engine = {
        kind: 'refused',
        holders: [`QEMU pid ${qemu.join(', ')} holds ${held[0]?.layer.name}, but ${names.message}`],
      };
      continue;
    }
    const top = pathsOf(d).find((p) => p.layer.ref.role === 'top');
    if (!held.some((h) => names.files.has(h.path)) && !(top && names.files.has(top.path))) {
      d.engine = {
        kind: 'refused',
        holders: [
          `QEMU pid ${qemu.join(', ')} holds ${held[0]?.layer.name}, but its block graph names none of this disk's images`,
        ],
      };
      continue;
    }
    d.engine = {
      kind: 'engine',
      engine: 'qmp',
      socket: vm.qmp,
      topHeld: top !== undefined && held.some((h) => h.path === top.path),
      qemu: names.qemu,
      pauses: names.pauses,
    };
  }
}

/**
 * The files QEMU's block nodes were opened by (as it still calls them after a rename), its
 * version, and whether it runs a guest it can pause.
 */
async function graphNames(
  exec: Executor,
  socket: string,
): Promise<{ files: Set<string>; qemu: string; pauses: boolean }> {
  const q = await QmpClient.connect(exec, socket);
  try {
    const nodes = await queryNodes(q);
    const commands = await q.execute<{ name: string }[]>('query-commands');
    return {
      files: new Set(nodes.map(fileOf)),
      qemu: await qemuVersion(q),
      pauses: commands.some((c) => c.name === 'stop'),
    };
  } finally {
    q.close();
  }
}

/**
 * For disks of a Proxmox VE VM: Proxmox changes them, on the VM's node, whoever holds them open;
 * a VM whose state lvchain could not learn is not acted on. A config that does not list the disk
 * keeps the verdict it had (validate reports it; the plan changes such a disk with nothing).
 */
export function judgeProxmox(disks: readonly ObservedDisk[], vmids: Readonly<Record<string, number>>): void {
  for (const d of disks) {
    const vmid = vmids[d.name];
    const vm = vmid === undefined ? undefined : d.proxmoxVms?.find((v) => v.vmid === vmid);
    if (vmid === undefined || !vm) continue;
    d.engine =
      vm.state === 'unknown'
        ? { kind: 'refused', holders: [placementText(vm)] }
        : {
            kind: 'engine',
            engine: 'proxmox',
            vmid,
            node: vm.node,
            here: vm.here,
            ...(vm.lock !== undefined ? { lock: vm.lock } : {}),
          };
  }
}
