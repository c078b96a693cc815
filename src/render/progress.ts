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

export function progressFigures(p: StepProgress): ProgressFigures {
  const done = Math.min(1, Math.max(0, p.fraction));
  const f: ProgressFigures = { percent: Math.round(done * 100) };
  const bytes = p.bytes !== undefined && p.bytes > 0 ? p.bytes : undefined;
  if (bytes !== undefined) {
    f.bytes = bytes;
    f.bytesDone = Math.round(bytes * done);
  }
  // No figure before 2 % is done, nor before a second has passed unless the step is done: QEMU
  // moves its first buffer (16 MiB for a qemu-img commit) at once, before its rate limit bites,
  // so a rate over the first few hundred ms reads as two or three times the limit. Once done, the
  // average is honest however short: qemu-img reports a cached 1 GiB commit done in about 0.3 s
  // (its flush follows), and a terminal should still show the rate.
  const settled = done >= 1 ? p.elapsedMs >= 100 : p.elapsedMs >= 1000 && done >= 0.02;
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
