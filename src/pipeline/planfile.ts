/** Saved plans: `plan --out FILE` writes the plan data; `apply FILE` reads and validates it. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Plan } from '../model/plan.js';
import { PLAN_FORMAT_VERSION, planSchema } from '../model/plan.js';
import { LvchainError } from '../base/errors.js';
import { writeFileAtomically } from '../exec/atomic-file.js';

export async function writePlanFile(file: string, plan: Plan): Promise<void> {
  await writeFileAtomically(resolve(file), `${JSON.stringify(plan, null, 2)}\n`);
}

export async function readPlanFile(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(resolve(file), 'utf8');
  } catch (e) {
    throw new LvchainError(
      'not_found',
      `cannot read plan file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LvchainError('plan_invalid', `${file} is not a saved lvchain plan (not JSON)`);
  }
  const major = (v: unknown) => (typeof v === 'string' ? v.split('.')[0] : undefined);
  const fv = (json as { format_version?: unknown } | null)?.format_version;
  if (major(fv) !== major(PLAN_FORMAT_VERSION)) {
    throw new LvchainError(
      'plan_invalid',
      `${file} has plan format ${String(fv)}; this lvchain reads plan format ${PLAN_FORMAT_VERSION}. Run "lvchain plan" again and apply the new plan.`,
    );
  }
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const change = first ? changeNamed(json, first.path) : undefined;
    throw new LvchainError(
      'plan_invalid',
      `${file} is not a valid lvchain plan: ${change ? `change ${change}: ` : ''}${first?.path.join('.')}: ${first?.message}`,
    );
  }
  return parsed.data;
}

/** The address of the change an invalid field is in, as the file spells it (quoted: it is untrusted). */
function changeNamed(json: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path[0] !== 'resource_changes' || typeof path[1] !== 'number') return undefined;
  const changes = (json as { resource_changes?: unknown }).resource_changes;
  const address = Array.isArray(changes)
    ? (changes[path[1]] as { address?: unknown } | null)?.address
    : undefined;
  return typeof address === 'string' ? JSON.stringify(address) : undefined;
}
