/** Binary sizes (`32GiB`, `512MiB`) and durations (`90m`, `36h`, `7d`, `2w`). */

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  PiB: 1024 ** 5,
};

export const SIZE_PATTERN = /^(\d+)\s*(B|KiB|MiB|GiB|TiB|PiB)$/;

const SIZE_EXAMPLE = 'e.g. 32GiB or 512MiB';

/** Bytes for a size string, or an error message that says what is wrong with it. */
export function parseSize(text: string): number | { error: string } {
  const t = text.trim();
  const m = SIZE_PATTERN.exec(t);
  if (m) {
    const bytes = Number(m[1]) * (SIZE_UNITS[m[2] as string] as number);
    if (!Number.isSafeInteger(bytes)) return { error: `"${text}" is too large; sizes must be below 8PiB` };
    return bytes;
  }
  return { error: sizeProblem(text) };
}

function sizeProblem(text: string): string {
  const t = text.trim();
  if (t === '') return `a size cannot be empty; write a whole number with a binary unit, ${SIZE_EXAMPLE}`;
  const parts = /^([+-]?)(\d*\.?\d*)\s*([A-Za-z]*)$/.exec(t);
  if (!parts || parts[2] === '' || parts[2] === '.') {
    return `"${text}" is not a size; write a whole number with a binary unit, ${SIZE_EXAMPLE}`;
  }
  const [, sign, number = '', unit = ''] = parts;
  if (sign === '-') return `"${text}" is negative; sizes are positive, ${SIZE_EXAMPLE}`;
  if (unit === '') return `"${text}" has no unit; write it with a binary unit, ${SIZE_EXAMPLE}`;
  const binary = Object.keys(SIZE_UNITS).find((u) => u.toLowerCase() === unit.toLowerCase());
  if (binary === undefined) {
    const prefix = /^([kmgtp])(b?)$/i.exec(unit);
    if (prefix) {
      const binaryUnit = `${(prefix[1] as string).toUpperCase()}iB`;
      const fix = /^\d+$/.test(number) ? `write ${number}${binaryUnit}` : `e.g. 32${binaryUnit}`;
      return prefix[2]
        ? `"${text}" uses the decimal unit ${unit}; lvchain takes binary units only (B, KiB, MiB, GiB, TiB, PiB): ${fix}`
        : `"${text}": the unit ${unit} is ambiguous; use a binary unit: ${fix}`;
    }
    return `"${text}": unknown unit "${unit}"; use B, KiB, MiB, GiB, TiB or PiB, ${SIZE_EXAMPLE}`;
  }
  if (binary !== unit) return `"${text}": units are case-sensitive; write ${number}${binary}`;
  if (sign === '+') return `"${text}": write the size without "+", e.g. ${number}${binary}`;
  // A fraction: say what it is in a smaller unit, if it is whole there.
  const bytes = Number(number) * (SIZE_UNITS[binary] as number);
  const exact = Number.isInteger(bytes) ? exactSize(bytes) : undefined;
  return `"${text}" is not a whole number of ${binary}${exact !== undefined ? `; write ${exact}` : `; use a smaller unit, ${SIZE_EXAMPLE}`}`;
}

/** The size in the largest unit that divides it exactly: 1610612736 → `1536MiB`. */
export function exactSize(bytes: number): string {
  const units = Object.entries(SIZE_UNITS).reverse();
  for (const [unit, factor] of units) {
    if (bytes !== 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

const DURATION_UNITS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

export const DURATION_PATTERN = /^(\d+)(m|h|d|w)$/;

const WORDS: Record<string, string> = {
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  hour: 'h',
  hours: 'h',
  day: 'd',
  days: 'd',
  week: 'w',
  weeks: 'w',
};

export function parseDuration(text: string): number | { error: string } {
  const t = text.trim();
  const m = DURATION_PATTERN.exec(t);
  if (m) return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
  const spelled = /^(\d+)\s*([A-Za-z]+)$/.exec(t);
  const unit = spelled ? WORDS[(spelled[2] as string).toLowerCase()] : undefined;
  if (spelled && unit !== undefined)
    return { error: `"${text}" is not a duration; write ${spelled[1]}${unit}` };
  return {
    error: `"${text}" is not a duration; write a whole number and m, h, d or w, e.g. 90m, 36h, 7d or 2w`,
  };
}

/** Human size for plans and tables: `1.5 GiB`, `640 KiB`, `0 B`. */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const shown = i === 0 || v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  return `${sign}${shown} ${units[i]}`;
}

/** How a merge's rate limit reads in a step's description: `, at most 50 MiB/s`, or nothing. */
export function rateNote(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined ? '' : `, at most ${formatBytes(bytesPerSecond)}/s`;
}
