/**
 * A saved plan is input, not instructions (DESIGN §9). It travels through CI artifacts, so any
 * field of it may have been edited, digests included. Apply therefore re-plans from the current
 * config and a fresh observation, and accepts the saved plan only if it is exactly what that
 * re-plan gives; what runs is the re-plan. The saved plan cannot grant permissions either:
 * `--allow-destroy` and `--allow-mass-delete` count only when apply is given them too.
 */
import type { Desired } from '../model/desired.js';
import type { Plan, ResourceChange } from '../model/plan.js';
import { nameProblem } from '../base/names.js';
import { canonical, sameSteps } from '../plan/recompute.js';
import { LvchainError } from '../base/errors.js';
import { diskAddress, snapshotAddress, vgAddress } from '../model/address.js';

const REPLAN_HINT = 'Run "lvchain plan --out FILE" again, review the new plan, and apply that one.';

export function refuse(message: string, hints: string[] = [REPLAN_HINT]): LvchainError {
  return new LvchainError('plan_refused', message, { hints });
}

/**
 * Checks made before anything is observed or locked, so that a name from the file never reaches
 * a path: every storage is one the config declares, and every change's address, name and disk
 * follow the name rules and agree with each other.
 */
export function checkSavedNames(file: string, plan: Plan, desired: Desired): void {
  if (plan.options.mode !== 'full')
    throw refuse(
      `Saved plan refused: ${file} has mode "${plan.options.mode}"; only "plan --out" plans apply`,
    );
  const declared = Object.keys(desired.storages).sort();
  const saved = Object.keys(plan.observed_fingerprint.storages).sort();
  const unknown = saved.filter((s) => !Object.hasOwn(desired.storages, s));
  if (unknown.length > 0 || saved.join('\n') !== declared.join('\n'))
    throw refuse(
      `Saved plan refused: ${file} observed the storages ${list(saved)}, but ${desired.source} declares ${list(declared)}`,
    );
  for (const c of plan.resource_changes) {
    const problem = changeNameProblem(c, desired);
    if (problem !== undefined)
      throw refuse(`Saved plan refused: change ${JSON.stringify(c.address)}: ${problem}`);
  }
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((n) => JSON.stringify(n)).join(', ');
}

function changeNameProblem(c: ResourceChange, desired: Desired): string | undefined {
  if (!Object.hasOwn(desired.storages, c.storage))
    return `storage ${JSON.stringify(c.storage)} is not declared in ${desired.source}`;
  if (c.type === 'lvchain_vg')
    return c.address === vgAddress(c.storage) && c.name === c.storage && c.disk === ''
      ? undefined
      : 'its address, name and storage do not agree';
  const diskProblem = nameProblem('disk', c.disk);
  if (diskProblem !== undefined) return `disk ${JSON.stringify(c.disk)}: ${diskProblem}`;
  const d = Object.hasOwn(desired.disks, c.disk) ? desired.disks[c.disk] : undefined;
  if (d && d.storage !== c.storage)
    return `disk ${c.disk} is declared on storage ${d.storage}, not ${JSON.stringify(c.storage)}`;
  if (c.type === 'lvchain_disk')
    return c.address === diskAddress(c.disk) && c.name === c.disk
      ? undefined
      : 'its address, name and disk do not agree';
  const snapProblem = nameProblem('snapshot', c.name);
  if (snapProblem !== undefined) return `snapshot ${JSON.stringify(c.name)}: ${snapProblem}`;
  return c.address === snapshotAddress(c.disk, c.name)
    ? undefined
    : 'its address, name and disk do not agree';
}

/**
 * The first way the saved changes differ from the re-planned ones, in words, if any. Position by
 * position: one disk's changes build on each other, and an address can occur more than once (a
 * resume, then a clean-up).
 */
export function firstDifference(
  saved: readonly ResourceChange[],
  replanned: readonly ResourceChange[],
): string | undefined {
  const addresses = new Set(replanned.map((c) => c.address));
  for (const [i, c] of saved.entries()) {
    const r = replanned[i];
    if (!addresses.has(c.address))
      return `change ${c.address} is not one the current config and storage plan`;
    if (!r) return `change ${c.address} is one more than the current config and storage plan`;
    if (r.address !== c.address)
      return `change ${c.address} is out of place: the current config and storage plan ${r.address} there`;
    const field = differingField(c, r);
    if (field !== undefined)
      return `change ${c.address} differs from what the current config and storage plan: ${field}`;
  }
  const missing = replanned[saved.length];
  if (missing)
    return `the plan leaves out change ${missing.address}, which the current config and storage plan`;
  return undefined;
}

/**
 * Every field that decides what apply does. Byte figures are left out: they are estimates that
 * move as guests write, and what runs is the re-plan's anyway.
 */
function differingField(a: ResourceChange, b: ResourceChange): string | undefined {
  const fields: [string, unknown, unknown][] = [
    ['type', a.type, b.type],
    ['name', a.name, b.name],
    ['storage', a.storage, b.storage],
    ['disk', a.disk, b.disk],
    ['group', a.group, b.group],
    ['actions', a.change.actions, b.change.actions],
    ['action_reason', a.action_reason, b.action_reason],
    ['irreversible', a.irreversible, b.irreversible],
    ['operation', withoutFigures(a.operation), withoutFigures(b.operation)],
    ['expected_shape', a.expected_shape, b.expected_shape],
    ['x_top_meta', a.x_top_meta, b.x_top_meta],
    ['x_policy', a.x_policy, b.x_policy],
    ['x_hooks', a.x_hooks, b.x_hooks],
  ];
  for (const [name, x, y] of fields) if (canonical(x) !== canonical(y)) return `its ${name}`;
  const steps = (c: ResourceChange) => c.x_steps.map((s) => s.step);
  if (!sameSteps(steps(a), steps(b))) return 'its steps';
  return undefined;
}

function withoutFigures(op: ResourceChange['operation']): unknown {
  return op.op === 'delete' ? { ...op, commit_bytes: null, stream_bytes: null, chosen_because: null } : op;
}
