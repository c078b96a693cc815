/** An instant as plans, reports and checks print it: UTC, whole seconds (`2026-01-05T10:00:00Z`). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
