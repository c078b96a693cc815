/** `lvchain list`: the estate as a table, one row per declared disk, and what is not OK under it. */
import type { EstateRow } from '../check/estate.js';
import type { HealthStatus } from '../check/status.js';
import { formatBytes } from '../base/units.js';
import { formatDurationRounded } from '../base/durations.js';
import type { Style } from './style.js';
import { termText } from './escape.js';

export function renderEstate(rows: readonly EstateRow[], opts: { now: number; style: Style }): string {
  const st = opts.style;
  if (rows.length === 0) return 'No disks are declared in the configuration.';
  const head = ['DISK', 'STORAGE', 'GUEST', 'SIZE', 'LAYERS', 'ALLOCATED', 'LAST SNAPSHOT', 'STATUS'];
  const cells = rows.map((r) => [
    termText(r.disk),
    termText(r.storage),
    termText(r.guest ?? '-'),
    formatBytes(r.size),
    r.layers === null ? '?' : String(r.layers),
    r.allocated === null ? '?' : formatBytes(r.allocated),
    r.last
      ? `${termText(r.last.snap)} (${formatDurationRounded(Math.max(0, opts.now - Date.parse(r.last.created)))} ago)`
      : r.snapshots === 0
        ? 'none'
        : '-',
    r.status,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const fmt = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  const colour = (s: HealthStatus, text: string) =>
    s === 'OK' ? st.green(text) : s === 'WARNING' ? st.yellow(text) : st.red(text);
  const lines = [st.dim(fmt(head))];
  for (const [i, r] of rows.entries()) {
    const line = fmt(cells[i] as string[]);
    lines.push(line.slice(0, line.length - r.status.length) + colour(r.status, r.status));
    for (const p of r.problems) lines.push(`  ${colour(r.status, '!')} ${termText(p)}`);
  }
  return lines.join('\n');
}
