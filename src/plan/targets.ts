/**
 * `--target` (Terraform's -target): keep only the changes for some addresses, plus what they
 * depend on: the earlier changes of the same disk (each starts where the previous one ended)
 * and the other disks of a guest snapshot (one name and one time for all of them). A target
 * that names nothing is an error, and every change it pulls in says why.
 */
import type { Desired } from '../model/desired.js';
import type { Observed } from '../model/observed.js';
import type { Diagnostic } from '../model/plan.js';
import type { TargetAddress } from '../model/address.js';
import { diskAddress, guestAddress, parseAddress, snapshotAddress } from '../model/address.js';
import { closest } from '../base/names.js';

interface Selectable {
  address: string;
  disk: string;
  group?: string;
}

export function selectTargets<C extends Selectable>(
  changes: readonly C[],
  targets: readonly string[],
  desired: Desired,
  observed: Observed,
): { changes: C[]; diagnostics: Diagnostic[] } {
  if (targets.length === 0) return { changes: [...changes], diagnostics: [] };
  const diagnostics: Diagnostic[] = [
    {
      severity: 'warning',
      summary: 'Resource targeting is in effect',
      detail:
        'The plan may not cover every change the config implies. Targeting is for exceptional situations, such as recovering from errors; it is not for routine use.',
    },
  ];
  const known = knownAddresses(changes, desired, observed);
  const parsed: TargetAddress[] = [];
  for (const t of targets) {
    const p = parseAddress(t);
    if (!p) {
      diagnostics.push({
        severity: 'error',
        summary: `invalid target "${t}"`,
        detail: 'Targets are disk.<name>, guest.<name> or snapshot.<disk>@<name>.',
      });
      continue;
    }
    if (!known.has(t)) {
      const best = closest(t, known);
      diagnostics.push({
        severity: 'error',
        summary: `target ${t} matches nothing in the config or on the storages${best !== undefined ? `; did you mean "${best}"?` : ''}`,
        detail: 'A target names a declared or existing disk, guest or snapshot. Nothing is planned for it.',
      });
      continue;
    }
    parsed.push(p);
  }
  const matches = (c: C): boolean =>
    parsed.some((t) =>
      t.kind === 'disk'
        ? c.disk === t.disk
        : t.kind === 'guest'
          ? (desired.guests[t.guest]?.disks ?? []).includes(c.disk)
          : c.address === snapshotAddress(t.disk, t.snap),
    );
  const keep = new Set<number>();
  // Why a change that no target names is in the plan: the change that pulled it in.
  const pulledBy = new Map<number, number>();
  const queue: number[] = [];
  changes.forEach((c, i) => {
    if (matches(c)) queue.push(i);
  });
  while (queue.length > 0) {
    const i = queue.pop() as number;
    if (keep.has(i)) continue;
    keep.add(i);
    const c = changes[i] as C;
    changes.forEach((o, j) => {
      if (keep.has(j)) return;
      if ((j < i && o.disk === c.disk) || (c.group !== undefined && o.group === c.group)) {
        if (!matches(o) && !pulledBy.has(j)) pulledBy.set(j, i);
        queue.push(j);
      }
    });
  }
  for (const [j, i] of [...pulledBy].sort(([a], [b]) => a - b))
    diagnostics.push(inclusionNote(changes[j] as C, changes[i] as C, desired));
  return { changes: changes.filter((_, i) => keep.has(i)), diagnostics };
}

function inclusionNote(pulled: Selectable, by: Selectable, desired: Desired): Diagnostic {
  const guest = desired.disks[by.disk]?.guest;
  const why =
    pulled.disk === by.disk
      ? `${by.address} builds on it: it is an earlier change of ${diskAddress(by.disk)}`
      : `${diskAddress(by.disk)} belongs to ${guest !== undefined ? `guest ${guest}` : `the group ${by.group ?? ''}`}, whose snapshots are taken and merged on all its disks together`;
  return {
    severity: 'info',
    summary: `${pulled.address} is included because ${why}`,
    address: pulled.address,
  };
}

/** Every address a target may name: declared and existing disks, guests, and snapshots. */
function knownAddresses(changes: readonly Selectable[], desired: Desired, observed: Observed): Set<string> {
  const known = new Set<string>(changes.map((c) => c.address));
  for (const guest of Object.values(desired.guests)) {
    known.add(guestAddress(guest.name));
    for (const disk of guest.disks) for (const snap of guest.pinned) known.add(snapshotAddress(disk, snap));
  }
  for (const disk of Object.values(desired.disks)) {
    known.add(diskAddress(disk.name));
    for (const snap of disk.pinned) known.add(snapshotAddress(disk.name, snap));
  }
  for (const storage of Object.values(observed.storages))
    for (const disk of Object.values(storage.disks)) {
      known.add(diskAddress(disk.name));
      for (const l of disk.layers)
        if (l.meta?.snap !== undefined) known.add(snapshotAddress(disk.name, l.meta.snap));
    }
  return known;
}
