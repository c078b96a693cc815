/** Records keyed by declared names, and what an unknown reference to one of them is told. */
import { closest } from '../base/names.js';

/** `; did you mean "lab"? (declared directories: lab)` for an unknown reference. */
export function known(what: string, name: string, names: string[]): string {
  if (names.length === 0) return ` (no ${what} are declared)`;
  const best = closest(name, names);
  return `${best !== undefined ? `; did you mean "${best}"?` : ''} (declared ${what}: ${[...names].sort().join(', ')})`;
}

/**
 * A null-prototype record: a declared name such as `constructor` is an ordinary entry, and
 * looking up an undeclared one finds nothing instead of Object.prototype's member.
 */
export function record<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
