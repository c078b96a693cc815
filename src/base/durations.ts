/**
 * Three ways of printing a duration, kept apart because their output is part of messages
 * people and tests already rely on: config-style for figures a user wrote or a rule states,
 * rounded for measured ages and periods, and rough for estimates.
 */

/** `36h`, `7d`, `90m`: the largest unit up to days that divides exactly, as durations are written in config. */
export function formatDurationExact(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A duration for people: `45s`, `30m`, `3h01m`, `2d04h`. */
export function formatDurationRounded(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.round(Math.abs(ms) / 1000);
  const sign = ms < 0 ? '-' : '';
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${sign}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m${s % 60 ? pad(s % 60) + 's' : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${sign}${h}h${m % 60 ? pad(m % 60) + 'm' : ''}`;
  const d = Math.floor(h / 24);
  return `${sign}${d}d${h % 24 ? pad(h % 24) + 'h' : ''}`;
}

/**
 * An estimate as people say one: `under a second`, `about 12 s`, `about 2 min`, `about 1.5 h`;
 * or, for a bound, `at most 12 s`.
 */
export function aboutDuration(seconds: number, bound = false): string {
  if (seconds < 1) return 'under a second';
  const word = bound ? 'at most' : 'about';
  if (seconds < 60) return `${word} ${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${word} ${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${word} ${Number((seconds / 3600).toFixed(1))} h`;
  return `${word} ${Number((seconds / 86400).toFixed(1))} days`;
}
