import type { GlobalOptions, Io } from './io.js';
import { openSession, type Session } from './session.js';
import { stringify } from 'yaml';
import { adoptDisk, isEstimate, type Frozen } from '../plan/adopt.js';
import { interpretDisk } from '../plan/interpret.js';
import { sizingFor } from '../plan/sizing.js';
import { shapeOf } from '../plan/shape.js';
import type { ShapeRow } from '../model/shape.js';
import type { ObservedDisk } from '../model/observed.js';
import type { ResourceChange, Step } from '../model/plan.js';
import type { LayerMeta } from '../model/meta.js';
import type { Realiser } from '../apply/realiser.js';
import { measureChainSizes } from '../apply/measure-chain.js';
import { applyPlan } from '../apply/apply.js';
import { LvchainError } from '../base/errors.js';
import { commandLines } from '../render/commands.js';
import { APPROVAL, confirm } from './approval.js';
import { lockRequest, withStorageLocks } from './locks.js';
import { printer } from './printer.js';
import { diskAddress } from '../model/address.js';
import { disksOn } from '../model/on-storage.js';
import { exactSize } from '../base/units.js';
import { isScheduledName } from '../base/names.js';
import type { DesiredStorage } from '../model/desired.js';
import { vmSnaptimes } from './proxmox-snaptimes.js';

/**
 * `lvchain import <storage> <disk>`: adopt a chain made by Proxmox VE 9 (or by hand in its
 * layout). It reads the chain (activating it if needed, and deactivating it again), checks
 * it, and adds lvchain's metadata as one change run by apply, which checks the chain again
 * first; it changes nothing else.
 */
export async function importCommand(
  g: GlobalOptions,
  storage: string,
  disk: string,
  o: { autoApprove: boolean; json: boolean; lockTimeoutMs: number },
  io: Io,
): Promise<number> {
  const session = await openSession(g, io);
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
    return await withStorageLocks(
      session,
      [storage],
      lockRequest(o, 'import', `import of ${disk}`),
      io,
      (locked) => adopt(session, storage, disk, o, io, locked.signal),
    );
  } finally {
    await session.close();
  }
}

async function adopt(
  session: Session,
  storage: string,
  disk: string,
  o: { autoApprove: boolean; json: boolean },
  io: Io,
  signal: AbortSignal,
): Promise<number> {
  const declared = session.desired.disks[disk];
  const backend = session.backend(storage);
  const names = disksOn(session.desired, storage).map((d) => d.name);
  const observedStorage = await backend.observe({ disks: [...new Set([...names, disk])] });
  const observed = await backend.prepareDisk(disk, names);
  const vmid = declared?.proxmoxVm;
  const snaptimes =
    vmid !== undefined
      ? await vmSnaptimes(session, session.desired.storages[storage] as DesiredStorage, vmid)
      : undefined;
  let change: ResourceChange | undefined;
  let snapshots: string[];
  let created: Record<string, Frozen>;
  try {
    await measureChainSizes(backend, observedStorage, observed);
    const sizing = sizingFor(observedStorage);
    const result = adoptDisk(observed, sizing, declared, snaptimes?.ok ? snaptimes.byName : {});
    if (!result.ok) {
      throw new LvchainError('drift', `${disk} on ${storage} cannot be imported; nothing was changed`, {
        hints: result.problems,
      });
    }
    snapshots = result.snapshots;
    created = result.created;
    if (result.steps.length > 0)
      change = adoption(
        storage,
        observed,
        result.steps,
        shapeOf(interpretDisk(observed, sizing).state),
        backend,
      );
  } finally {
    await backend.releaseDisk(disk);
  }
  if (change === undefined) {
    io.out(`${disk} is already managed by lvchain; nothing to import.`);
    return 0;
  }
  io.out(
    `lvchain will adopt ${disk} on ${storage} (${observed.layers.length} layer(s); snapshots: ${snapshots.join(', ') || 'none'}).`,
  );
  if (snaptimes?.ok === false)
    io.out(
      io.style.yellow(
        `Note: the config of Proxmox VE VM ${vmid} could not be read (${snaptimes.why}); snapshot times are estimates.`,
      ),
    );
  for (const snap of snapshots) {
    const c = created[snap] as Frozen;
    io.out(`  snapshot ${snap}: taken ${isEstimate(c) ? 'about ' : ''}${c.at} (${HOW[c.how]})`);
  }
  io.out('It adds lvchain metadata and changes nothing else:');
  for (const { description, commands } of change.x_steps) {
    io.out(`  ${description}`);
    for (const line of commandLines(commands)) io.out(io.style.dim(`    $ ${line}`));
  }
  if (!declared)
    io.out(
      io.style.yellow(
        `Note: ${disk} is not declared in ${session.desired.source}; declare it so plan and apply manage it.`,
      ),
    );
  const unpinned = snapshots.filter((s) => !(declared?.pinned ?? []).includes(s));
  if (unpinned.length > 0)
    io.out(
      `Snapshots not declared as pinned (${unpinned.join(', ')}) are adopted as external: lvchain never deletes them on its own.`,
    );
  if (!(await confirm(io, o, false, APPROVAL.import))) {
    io.err('Import cancelled.');
    return 1;
  }
  const p = printer(io, false);
  const outcome = await applyPlan(
    { resource_changes: [change] },
    {
      desired: session.desired,
      observed: { storages: { [storage]: observedStorage } },
      backend: (s) => session.backend(s),
      // The steps were listed above; only what goes wrong is worth a line.
      onEvent: (e) => {
        if (e.type === 'apply_errored' || e.type === 'change_skipped') p.event(e);
      },
      signal,
    },
  );
  if (outcome.failed.length > 0 || outcome.interrupted) return 1;
  io.out(io.style.green(`Imported ${disk}: ${change.x_steps.length} layer(s) tagged.`));
  if (!declared) {
    io.out(`To manage it, add this under disks: in ${session.desired.source}:`);
    io.out(configSnippet(storage, observed, snapshots));
    const scheduled = snapshots.filter(isScheduledName);
    if (scheduled.length > 0)
      io.out(
        `${scheduled.join(', ')} cannot be pinned in a config (auto- names are for schedules); they stay external.`,
      );
  }
  return 0;
}

const HOW: Record<Frozen['how'], string> = {
  recorded: 'as lvchain recorded it',
  snaptime: "the VM config's snaptime",
  child_created: 'estimated from when the layer above it was created',
  modified: "estimated from the image's last modification",
};

/**
 * The imported disk as it would be declared: its storage, size, and snapshots kept as pins.
 * Scheduled names cannot be pinned; those snapshots stay external, which lvchain never deletes.
 */
function configSnippet(storage: string, disk: ObservedDisk, snapshots: readonly string[]): string {
  const top = disk.layers.find((l) => l.ref.role === 'top');
  const size = top?.header.state === 'read' ? top.header.header.virtualSize : undefined;
  const pins = snapshots.filter((s) => !isScheduledName(s));
  const entry = {
    storage,
    ...(size !== undefined ? { size: exactSize(size) } : {}),
    ...(pins.length > 0 ? { snapshots: Object.fromEntries(pins.map((s) => [s, {}])) } : {}),
  };
  return stringify({ disks: { [disk.name]: entry } }).trimEnd();
}

/** The adoption as a change of the disk, like the changes a plan holds. */
function adoption(
  storage: string,
  disk: ObservedDisk,
  steps: Step[],
  shape: ShapeRow[],
  backend: Realiser,
): ResourceChange {
  const top = disk.layers.find((l) => l.ref.role === 'top');
  const topStep = steps.find((s) => s.kind === 'set_meta' && s.layer.role === 'top');
  const topMeta: LayerMeta = topStep?.kind === 'set_meta' ? topStep.meta : (top?.meta ?? { disk: disk.name });
  return {
    address: diskAddress(disk.name),
    type: 'lvchain_disk',
    name: disk.name,
    storage,
    disk: disk.name,
    change: { actions: ['update'], before: null, after: null },
    action_reason: 'import_requested',
    irreversible: false,
    operation: { op: 'adopt' },
    expected_shape: shape,
    x_top_meta: topMeta,
    x_steps: steps.map((step) => ({ step, ...backend.describe(disk.name, step) })),
  };
}
