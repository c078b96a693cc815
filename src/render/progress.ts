/** One step's progress as a line: where it is, how fast it goes, and how long it has left. */
import { formatBytes } from '../base/units.js';
import { formatDurationRounded } from '../base/durations.js';

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
  // Too early to say anything honest about speed before a second has passed or 1 % is done.
  if (p.elapsedMs >= 1000 && done >= 0.01) {
    if (p.bytes !== undefined && p.bytes > 0)
      parts.push(`${formatBytes((p.bytes * done * 1000) / p.elapsedMs)}/s`);
    if (done < 1) parts.push(`about ${formatDurationRounded((p.elapsedMs * (1 - done)) / done)} left`);
  }
  return parts.join('  ');
}
