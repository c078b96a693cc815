/** How schema messages name values and expectations, shared by the schema's modules. */
/** The value as it reads in a message: `"yes"`, `42`, `a list`, `a map`, `nothing`. */
export function describeValue(v: unknown): string {
  if (v === undefined || v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v === 'string' ? `the string ${JSON.stringify(v)}` : String(v);
}

/** A message for a value that has the wrong type: `must be X, not the string "yes"`. */
export const typeError = (expected: string) => (iss: { input?: unknown }) =>
  `must be ${expected}, not ${describeValue(iss.input)}`;
