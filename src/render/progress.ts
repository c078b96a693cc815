/** One step's progress: where it is, how fast it goes, and how long it has left. */
import { formatBytes } from '../base/units.js';
import { aboutDuration } from '../base/durations.js';

export interface StepProgress {
  address: string;
  /** 0-based step index and the change's step count. */
  index: number;
  count: number;
  fraction: number;
  elapsedMs: number;
  /** The bytes the step moves, when the plan knows them (merges). */
  bytes?: number;
}

/** The figures of a progress report, the same on a terminal and in NDJSON. */
export interface ProgressFigures {
  percent: number;
  bytes?: number;
  bytesDone?: number;
  bytesPerSecond?: number;
  etaSeconds?: number;
}

/** Four times the largest buffer a data move writes at once (qemu-img commit's 16 MiB). */
export const SETTLED_BYTES = 64 * 1024 * 1024;

export function progressFigures(p: StepProgress): ProgressFigures {
  const done = Math.min(1, Math.max(0, p.fraction));
  const f: ProgressFigures = { percent: Math.round(done * 100) };
  const bytes = p.bytes !== undefined && p.bytes > 0 ? p.bytes : undefined;
  if (bytes !== undefined) {
    f.bytes = bytes;
    f.bytesDone = Math.round(bytes * done);
  }
  // No figure before 2 % is done and a tenth of a second has passed, nor while what is done could
  // be mostly QEMU's first buffer: a job moves one (16 MiB for a qemu-img commit) at once, before
  // its rate limit bites, so over the first second a throttled merge read as two or three times
  // its limit. Past four buffers, or past a second, or once done, the average is honest:
  // qemu-img reports a cached 1 GiB commit done in about 0.3 s, and a terminal should show it.
  const moved = bytes !== undefined ? bytes * done : 0;
  const settled =
    p.elapsedMs >= 100 && (done >= 1 || (done >= 0.02 && (p.elapsedMs >= 1000 || moved >= SETTLED_BYTES)));
  if (settled) {
    if (bytes !== undefined) f.bytesPerSecond = Math.round((bytes * done * 1000) / p.elapsedMs);
    if (done < 1) f.etaSeconds = Math.round((p.elapsedMs * (1 - done)) / done / 100) / 10;
  }
  return f;
}

export function progressLine(p: StepProgress): string {
  const f = progressFigures(p);
  const n = Math.round(Math.min(1, Math.max(0, p.fraction)) * 20);
  const parts = [
    `${p.address}: [${p.index + 1}/${p.count}] [${'#'.repeat(n)}${'.'.repeat(20 - n)}] ${f.percent}%`,
  ];
  if (f.bytes !== undefined) parts.push(`${formatBytes(f.bytesDone ?? 0)} of ${formatBytes(f.bytes)}`);
  if (f.bytesPerSecond !== undefined) parts.push(`${formatBytes(f.bytesPerSecond)}/s`);
  if (f.etaSeconds !== undefined) parts.push(`${aboutDuration(f.etaSeconds)} left`);
  return parts.join('  ');
}
