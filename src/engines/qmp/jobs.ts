/**
 * Block jobs that outlive lvchain (DESIGN §12): a job id derives from the operation, so a
 * resumed run asks QEMU first and waits for, or reads the end of, the job it started before.
 */
import { createHash } from 'node:crypto';
import { LvchainError } from '../../base/errors.js';
import type { QmpClient } from './client.js';

export interface JobInfo {
  id: string;
  type: string;
  status: string;
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

const POLL_MS = 200;

export function jobId(kind: 'stream' | 'commit', disk: string, snap: string): string {
  return `lvc-${kind}-${createHash('sha256').update(`${disk}\0${snap}`).digest('hex').slice(0, 16)}`;
}

export async function findJob(q: QmpClient, id: string): Promise<JobInfo | undefined> {
  return (await q.execute<JobInfo[]>('query-jobs')).find((j) => j.id === id);
}

/** Wait until the job is gone or in one of these states, reporting progress on the way. */
export async function waitForJob(
  q: QmpClient,
  id: string,
  states: readonly string[],
  onProgress?: (fraction: number) => void,
): Promise<JobInfo | undefined> {
  for (;;) {
    const job = await findJob(q, id);
    if (!job || states.includes(job.status)) return job;
    if (job['total-progress'] > 0) onProgress?.(job['current-progress'] / job['total-progress']);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Wait until the job has concluded, reporting progress; then read its result and dismiss it.
 * A job that failed is an error naming QEMU's reason.
 */
export async function finishJob(
  q: QmpClient,
  id: string,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const job = await waitForJob(q, id, ['concluded'], onProgress);
  if (!job) return;
  onProgress?.(1);
  await q.execute('job-dismiss', { id });
  if (job.error !== undefined)
    throw new LvchainError('vm_failed', `QEMU's ${job.type} job ${id} failed: ${job.error}`, {
      details: { socket: q.socket, job: id },
    });
}
