import type { GlobalOptions, Io } from '../context.js';
import { Session } from '../../pipeline.js';
import { adoptChain } from '../../plan/adopt.js';
import { sizingFor } from '../../plan/plan.js';
import type { ObservedDisk } from '../../model/observed.js';
import { refKey, sameRef } from '../../model/layer.js';
import { LvchainError } from '../../errors.js';
import { commandLines } from '../../render/commands.js';
import { confirm, lockRequest } from './apply.js';
import { withStorageLocks } from '../locks.js';
import type { DesiredDisk } from '../../model/desired.js';

/**
 * `lvchain import <storage> <disk>`: adopt a chain made by Proxmox VE 9 (or by hand in its
 * layout). It reads the chain (activating it if needed, and deactivating it again), checks
 * it, and adds lvchain's metadata; it changes nothing else.
 */
export async function importCommand(
  g: GlobalOptions,
  storage: string,
  disk: string,
  o: { autoApprove: boolean; json: boolean; lockTimeoutMs: number },
  io: Io,
): Promise<number> {
  const session = await Session.open(g.config, io.onCommand ? { onCommand: io.onCommand } : {});
  try {
    if (!session.desired.storages[storage]) {
      throw new LvchainError('not_found', `no storage named ${storage} in ${session.desired.source}`, {
        hints: [`Declared: ${Object.keys(session.desired.storages).sort().join(', ') || 'none'}.`],
      });
    }
    const declared = session.desired.disks[disk];
    if (declared && declared.storage !== storage) {
      throw new LvchainError('usage', `${disk} is declared on storage ${declared.storage}, not ${storage}`);
    }
    return await withStorageLocks(session, [storage], lockRequest(o, 'import', `import of ${disk}`), io, () =>
      adopt(session, storage, disk, declared, o, io),
    );
  } finally {
    await session.close();
  }
}

async function adopt(
  session: Session,
  storage: string,
  disk: string,
  declared: DesiredDisk | undefined,
  o: { autoApprove: boolean; json: boolean },
  io: Io,
): Promise<number> {
  const backend = session.backend(storage);
  const names = Object.values(session.desired.disks)
    .filter((d) => d.storage === storage)
    .map((d) => d.name);
  const observedStorage = await backend.observe({ disks: [...new Set([...names, disk])] });
  const observed = await backend.prepareDisk(disk, names);
  try {
    const sizes = observed.layers.flatMap((l) =>
      l.header.state === 'read' ? [l.header.header.virtualSize] : [],
    );
    await backend.measure(observedStorage, sizes);
    const result = adoptChain(observed, sizingFor(observedStorage), {
      ...(declared?.guest !== undefined ? { guest: declared.guest } : {}),
      protect: declared?.protect ?? false,
      pinned: declared?.pinned ?? [],
      frozenAt: (name) => childOf(observed, name)?.born,
    });
    if (!result.ok) {
      throw new LvchainError('drift', `${disk} on ${storage} cannot be imported; nothing was changed`, {
        hints: result.problems,
      });
    }
    if (result.steps.length === 0) {
      io.out(`${disk} is already managed by lvchain; nothing to import.`);
      return 0;
    }
    io.out(
      `lvchain will adopt ${disk} on ${storage} (${observed.layers.length} layer(s); snapshots: ${result.snapshots.join(', ') || 'none'}).`,
    );
    io.out('It adds lvchain metadata and changes nothing else:');
    for (const step of result.steps) {
      const d = backend.describe(disk, step);
      io.out(`  ${d.description}`);
      for (const line of commandLines(d.commands)) io.out(io.style.dim(`    $ ${line}`));
    }
    if (!declared)
      io.out(
        io.style.yellow(
          `Note: ${disk} is not declared in ${session.desired.source}; declare it so plan and apply manage it.`,
        ),
      );
    const unpinned = result.snapshots.filter((s) => !(declared?.pinned ?? []).includes(s));
    if (unpinned.length > 0)
      io.out(
        `Snapshots not declared as pinned (${unpinned.join(', ')}) are adopted as external: lvchain never deletes them on its own.`,
      );
    if (!(await confirm(io, o, false))) {
      io.err('Import cancelled.');
      return 1;
    }
    for (const step of result.steps) await backend.execute(disk, step);
    io.out(io.style.green(`Imported ${disk}: ${result.steps.length} layer(s) tagged.`));
    return 0;
  } finally {
    await backend.releaseDisk(disk);
  }
}

/** The layer whose backing is `name`'s layer: created when `name` was frozen as a snapshot. */
function childOf(disk: ObservedDisk, name: string) {
  const layer = disk.layers.find((l) => l.name === name);
  if (!layer) return undefined;
  return disk.layers.find(
    (l) =>
      l.header.state === 'read' &&
      l.header.backing.kind === 'layer' &&
      sameRef(l.header.backing.ref, layer.ref) &&
      refKey(l.ref) !== refKey(layer.ref),
  );
}
