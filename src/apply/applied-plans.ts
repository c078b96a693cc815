/**
 * Which saved plans were applied, kept beside each storage's lock (`<lock>.applied`): the last
 * few plan ids with the instant their apply ended. Apply refuses a used plan by its fingerprint
 * anyway (DESIGN §8); this record only lets it say so plainly: "this plan was already applied at
 * …" instead of listing what the storage changed. Written under the lock, with the lock's link
 * guards: the file is input like any other on a shared storage, and only ever feeds a message.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Executor } from '../exec/executor.js';
import { ISO_INSTANT } from '../base/instants.js';

const KEEP = 20;

const entrySchema = z.object({
  plan_id: z.string(),
  applied: z.string().regex(ISO_INSTANT),
  outcome: z.enum(['complete', 'failed', 'interrupted']),
});

export type AppliedPlan = z.infer<typeof entrySchema>;

// $1 record file, $2 the new line, $3 random suffix of the temporary file. The old lines are
// read only from a plain file; the new file is written under a fresh name and renamed over it.
const APPEND = [
  'if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then echo "$1 is not a regular file" >&2; exit 1; fi',
  'set -C',
  `{ if [ -f "$1" ]; then tail -n ${KEEP - 1} "$1"; fi; printf '%s\\n' "$2"; } > "$1.tmp-$3" && mv -f "$1.tmp-$3" "$1"`,
].join('\n');

const READ = 'if [ -f "$1" ] && [ ! -L "$1" ]; then cat "$1"; fi';

function recordPath(lockPath: string): string {
  return `${lockPath}.applied`;
}

/** Record that a saved plan was applied; the caller holds the storage's lock. */
export async function recordApplied(exec: Executor, lockPath: string, entry: AppliedPlan): Promise<void> {
  const r = await exec.run([
    'sh',
    '-c',
    APPEND,
    'lvchain-applied',
    recordPath(lockPath),
    JSON.stringify(entry),
    randomBytes(12).toString('hex'),
  ]);
  if (r.failed) throw new Error(r.stderr.trim() || `exit ${r.exitCode}`);
}

/** The record of a plan id on one storage, if it was applied there. */
export async function findApplied(
  exec: Executor,
  lockPath: string,
  planId: string,
): Promise<AppliedPlan | undefined> {
  const r = await exec.run(['sh', '-c', READ, 'lvchain-applied', recordPath(lockPath)]);
  if (r.failed) return undefined;
  for (const line of r.stdout.split('\n').reverse()) {
    try {
      const e = entrySchema.safeParse(JSON.parse(line));
      if (e.success && e.data.plan_id === planId) return e.data;
    } catch {
      // A line that is not JSON says nothing about this plan.
    }
  }
  return undefined;
}
