/**
 * `--target` (Terraform's -target): keep only the changes for some addresses, plus what they
 * depend on: the earlier changes of the same disk (each starts where the previous one ended)
 * and the other disks of a guest snapshot (one name and one time for all of them).
 */
import type { Desired } from '../model/desired.js';
import type { Diagnostic } from '../model/plan.js';
import type { TargetAddress } from '../model/address.js';
import { parseAddress, snapshotAddress } from '../model/address.js';

interface Selectable {
  address: string;
  disk: string;
  group?: string;
}

export function selectTargets<C extends Selectable>(
  changes: readonly C[],
  targets: readonly string[],
  desired: Desired,
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
    if (p.kind === 'guest' && !desired.guests[p.guest])
      diagnostics.push({ severity: 'warning', summary: `target ${t}: no such guest in the config` });
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
      if ((j < i && o.disk === c.disk) || (c.group !== undefined && o.group === c.group)) queue.push(j);
    });
  }
  return { changes: changes.filter((_, i) => keep.has(i)), diagnostics };
}
