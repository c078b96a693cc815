/**
 * Whatever stopped `check` from looking becomes an UNKNOWN result, never an error exit 1,
 * which a Nagios host reads as WARNING.
 */
import { isLvchainError } from '../base/errors.js';
import { oneLine } from '../base/text.js';
import type { CheckResult } from './report.js';

/** Whatever stopped the check from looking, as an UNKNOWN result. */
export function unknownResult(check: 'run' | 'output', e: unknown, prefix?: string): CheckResult {
  const message = oneLine(`${prefix ? `${prefix}: ` : ''}${messageOf(e)}`);
  const hints = isLvchainError(e) ? e.hints.map(oneLine) : [];
  return {
    check,
    status: 'UNKNOWN',
    message: hints.length > 0 ? `${message} (${hints.join(' ')})` : message,
    values: { error_code: isLvchainError(e) ? e.code : isSystemError(e) ? (e.code ?? 'io') : 'internal' },
  };
}

export function messageOf(e: unknown): string {
  if (isLvchainError(e) || isSystemError(e)) return e.message;
  return `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

/** A file system error (ENOENT, EACCES, …): the message says it all. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}
