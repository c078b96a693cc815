/** Option value parsers shared by commands. */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../base/units.js';

export function parseInstant(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new InvalidArgumentError(
      `"${text}" is not an instant; write ISO 8601 with a zone, e.g. 2026-11-22T03:00:00Z or 2026-11-22T03:00+01:00`,
    );
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`"${text}" is not a valid date`);
  return ms;
}

export function parseDirection(text: string): 'auto' | 'commit' | 'stream' {
  if (text === 'auto' || text === 'commit' || text === 'stream') return text;
  throw new InvalidArgumentError('must be auto, commit or stream');
}

export function parseSeconds(text: string): number {
  const m = /^(\d+)(s|m)?$/.exec(text);
  if (!m) throw new InvalidArgumentError('must be a number of seconds, e.g. 30s or 5m');
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1) * 1000;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A duration as the config writes it: 90m, 36h, 7d, 2w. */
export function parseDurationOption(text: string): number {
  const ms = parseDuration(text);
  if (typeof ms !== 'number') throw new InvalidArgumentError(ms.error);
  return ms;
}
