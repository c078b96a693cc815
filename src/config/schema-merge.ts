/** How merges are paced: a storage's `mergeRate` and a policy's `mergeWindow` (issue 10 §2). */
import { z } from 'zod';
import { parseSize } from '../base/units.js';
import { MERGE_WINDOW } from '../policy/merge-window.js';
import { typeError } from './schema-words.js';

/** A rate such as 50MiB/s: bytes per second, the size written with a binary unit. */
export function rateBytes(text: string): number | { error: string } {
  const r = parseSize(text.replace(/\/s$/, ''));
  if (typeof r !== 'number') return { error: `${r.error}, per second, e.g. 50MiB/s` };
  return r > 0 ? r : { error: 'must be above zero, e.g. 50MiB/s' };
}

export const mergeRate = z
  .string({ error: typeError('a rate such as 50MiB/s') })
  .refine((v) => typeof rateBytes(v) === 'number', {
    error: (iss) => {
      const r = rateBytes(String(iss.input));
      return typeof r === 'number' ? 'must be a rate such as 50MiB/s' : r.error;
    },
  })
  .describe(
    "The most a merge may move per second, e.g. 50MiB/s: `speed` of a running VM's block jobs, `-r` of an offline qemu-img commit. Offline streams are not limited (qemu-img rebase has no rate limit).",
  );

export const mergeWindow = z
  .string({ error: typeError('a time window such as "01:00-05:00"') })
  .regex(MERGE_WINDOW, {
    error: (iss) =>
      `${JSON.stringify(iss.input)} is not a window; write start-end in 24-hour time, e.g. "01:00-05:00" (it may cross midnight, e.g. "22:00-04:00")`,
  })
  .refine((w) => w.slice(0, 5) !== w.slice(6), {
    error: 'start and end are the same time; leave mergeWindow out to merge at any time',
  })
  .describe(
    'Merges (retention\'s and removed pins\') run only inside this daily window, in timezone, e.g. "01:00-05:00"; outside it snapshots are still taken and the merges wait, which the plan says.',
  );
