/** How long a plan's merges should take, as the plan states it (plan/time-estimate.ts makes it). */
import { z } from 'zod';

/**
 * How long a change's merges should take: their bytes at the rate the storage's recorded merges
 * ran, an assumed rate while none is on record, or the storage's mergeRate where that is lower.
 */
export const timeEstimateSchema = z.strictObject({
  seconds: z.number().nonnegative(),
  bytes_per_second: z.number().int().positive(),
  basis: z.enum(['recorded', 'assumed', 'merge_rate']),
  /** The merges on record behind the rate; 0 when it is assumed. */
  merges: z.number().int().nonnegative(),
  /**
   * What a merge copies could not be read (its chain is inactive, as on a Proxmox node): the time
   * is for the most it can copy, the merged layer's virtual size (plan format 2.5).
   */
  at_most: z.boolean().optional(),
});
export type TimeEstimate = z.infer<typeof timeEstimateSchema>;
