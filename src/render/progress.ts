/** One step's progress as a line: where it is, how fast it goes, and how long it has left. */
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

export function progressLine(p: StepProgress): string {
  const done = Math.min(1, Math.max(0, p.fraction));
  const n = Math.round(done * 20);
  const parts = [
    `${p.address}: [${p.index + 1}/${p.count}] [${'#'.repeat(n)}${'.'.repeat(20 - n)}] ${Math.round(done * 100)}%`,
  ];
  // Too early to say anything honest about speed before a quarter second has passed or 2 % is
  // done; any later and a 1 GiB merge on a fast disk ends before it shows a rate.
  if (p.elapsedMs >= 250 && done >= 0.02) {
    if (p.bytes !== undefined && p.bytes > 0)
      parts.push(`${formatBytes((p.bytes * done * 1000) / p.elapsedMs)}/s`);
    if (done < 1) parts.push(`${aboutDuration((p.elapsedMs * (1 - done)) / done / 1000)} left`);
  }
  return parts.join('  ');
}
