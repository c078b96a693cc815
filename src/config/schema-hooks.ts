/** A policy's snapshot hooks (issue 12): commands that quiesce an application around a snapshot. */
import { z } from 'zod';
import { typeError } from './schema-words.js';

const argv = (when: string) =>
  z
    .array(
      z
        .string({ error: typeError('a word of the command') })
        .refine((w) => !w.includes('\0'), 'must not contain NUL'),
      {
        error: typeError('a command as a list of words, e.g. [/usr/local/bin/db-freeze, --wait]'),
      },
    )
    .min(1, { error: 'must name a command: a list of words such as [/usr/local/bin/db-freeze]' })
    .describe(
      `Run on the storage's host ${when}, as argv (no shell), with LVCHAIN_GUEST, LVCHAIN_DISKS, LVCHAIN_SNAPSHOT, LVCHAIN_STORAGE and LVCHAIN_POLICY in its environment.`,
    );

export const hooks = z
  .strictObject({
    preSnapshot: argv(
      "before each snapshot of the policy's guests and disks; if it fails or times out, that snapshot is skipped",
    ).optional(),
    postSnapshot: argv(
      'after the snapshot, whenever the pre-snapshot hook ran, also when it or the snapshot failed (to thaw what it froze)',
    ).optional(),
    timeout: z
      .string({ error: typeError('a duration such as 30s or 5m') })
      .regex(/^[1-9][0-9]*(s|m)$/, { error: 'must be seconds or minutes, e.g. 30s or 5m' })
      .optional()
      .describe('How long each hook may run before it is ended and counts as failed (default 60s).'),
  })
  .describe('Commands run around each snapshot, e.g. to flush and lock a database.');
