/** An instant as plans, reports and checks print it: UTC, whole seconds (`2026-01-05T10:00:00Z`). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An instant as lvchain writes it into plans, tags and sidecars: UTC, optional milliseconds. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
