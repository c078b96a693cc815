import type { GlobalOptions, Io } from './io.js';
import { openSession } from './session.js';
import { interpretDisk } from '../plan/interpret.js';
import { sizingFor } from '../plan/sizing.js';
import { renderDiskTree } from '../render/tree.js';
import { LvchainError } from '../base/errors.js';
import { measureChainSizes } from '../apply/measure-chain.js';
import { disksOn } from '../model/on-storage.js';
import type { PveVmPlacement } from '../model/proxmox.js';
import { savedStateOf } from '../plan/proxmox.js';
import type { StateBytes } from '../render/tree.js';

export async function showCommand(
  g: GlobalOptions,
  disk: string,
  o: { json: boolean },
  io: Io,
): Promise<number> {
  const session = await openSession(g, io);
  try {
    const declared = session.desired.disks[disk];
    const storages = declared ? [declared.storage] : Object.keys(session.desired.storages).sort();
    for (const name of storages) {
      const backend = session.backend(name);
      const all = disksOn(session.desired, name).map((x) => x.name);
      const observedStorage = await backend.observe({ disks: all });
      const observed = observedStorage.disks[disk];
      if (!observed || observed.layers.length === 0) continue;
      await backend.readHeaders(observedStorage, [disk]);
      await measureChainSizes(backend, observedStorage, observed);
      const view = interpretDisk(observed, sizingFor(observedStorage));
      const stateBytes = (vmid: number, snap: string) =>
        savedStateOf(observedStorage, disk, vmid, snap)?.bytes;
      if (o.json)
        io.out(
          JSON.stringify(
            {
              disk,
              storage: name,
              location: backend.location,
              verified: view.verified,
              problems: view.problems,
              layers: observed.layers,
              ...(observed.proxmoxVms
                ? { proxmox_vms: withStateBytes(observed.proxmoxVms, stateBytes) }
                : {}),
            },
            null,
            2,
          ),
        );
      else
        io.out(
          renderDiskTree(observed, view, {
            storage: name,
            location: backend.location,
            style: io.style,
            stateBytes,
          }),
        );
      return 0;
    }
    throw new LvchainError('not_found', `disk ${disk} was not found on ${storages.join(', ')}`, {
      hints: declared
        ? ['It is declared but not created yet; run "lvchain apply".']
        : ['It is not declared in the config either.'],
    });
  } finally {
    await session.close();
  }
}

/** The VM configs' snapshot facts, each saved RAM state with its size where this storage holds it. */
function withStateBytes(vms: readonly PveVmPlacement[], stateBytes: StateBytes) {
  return vms.map((vm) => ({
    ...vm,
    snapshots: Object.fromEntries(
      Object.entries(vm.snapshots).map(([name, f]) => {
        const bytes = f.vmstate !== undefined ? stateBytes(vm.vmid, name) : undefined;
        return [name, bytes !== undefined ? { ...f, vmstate_bytes: bytes } : f];
      }),
    ),
  }));
}
