/** Fields of a policy with checks of their own: `adopt`'s regular expression, `check`'s periods. */
import { z } from 'zod';
import { typeError } from './schema-words.js';

function regExpError(text: string): string | undefined {
  try {
    new RegExp(text, 'u');
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export const adoptPattern = z
  .string({ error: typeError('a regular expression in quotes, e.g. "^auto"') })
  .refine((text) => regExpError(text) === undefined, {
    error: (iss) => `"${String(iss.input)}" is not a regular expression: ${regExpError(String(iss.input))}`,
  })
  .describe(
    "Snapshots another tool took (Proxmox VE, cv4pve-autosnap) whose names match this regular expression count as this policy's: its retention keeps or prunes them by their time (a Proxmox VM's through Proxmox), and they satisfy its schedule. Others' snapshots are never deleted otherwise.",
  );

export const periods = z
  .number({ error: typeError('a number of schedule periods, e.g. 1.5') })
  .min(1, { error: 'must be at least 1 (one schedule period)' })
  .max(1000, { error: 'must be at most 1000' });
