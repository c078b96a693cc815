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

/** Bytes for a size string, or an error message. Only whole numbers of binary units. */
export function parseSize(text: string): number | { error: string } {
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) {
    const decimal = /^\d+(\.\d+)?\s*(k|K|M|G|T|KB|MB|GB|TB|k?b)$/.exec(text.trim());
    const hint = decimal ? ' (decimal units are not accepted; use KiB, MiB, GiB or TiB)' : '';
    return {
      error: `"${text}" is not a size; write a whole number with a binary unit, e.g. 32GiB or 512MiB${hint}`,
    };
  }
  const bytes = Number(m[1]) * (SIZE_UNITS[m[2] as string] as number);
  if (!Number.isSafeInteger(bytes)) return { error: `"${text}" is too large` };
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

export const DURATION_PATTERN = /^(\d+)(m|h|d|w)$/;

export function parseDuration(text: string): number | { error: string } {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) return { error: `"${text}" is not a duration; write e.g. 90m, 36h, 7d or 2w` };
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
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
