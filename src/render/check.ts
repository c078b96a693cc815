/**
 * `lvchain check` for people and programs: the Nagios plugin output and the JSON document, both
 * read from the same HealthReport (STYLE 8), so they never disagree.
 *
 * Nagios plugin output (monitoring-plugins development guidelines): the first line is
 * `LVCHAIN <STATE> - <summary> | <perfdata>`, the lines after it are the long output. A `|` in
 * a message would start the performance data, so messages carry none.
 */
import type { CheckResult, HealthReport } from '../check/report.js';
import type { HealthStatus } from '../check/status.js';
import { EXIT_CODES, severityRank } from '../check/status.js';
import { isoSeconds } from '../base/instants.js';
import { termText } from './escape.js';
import { diskAddress } from '../model/address.js';

export const CHECK_FORMAT_VERSION = '1.0';

/** How many problems the summary line names before "and N more". */
const SUMMARY_ITEMS = 3;

const STATUSES: readonly HealthStatus[] = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

/** The thing a result is about, in lvchain's address style; none for the run itself. */
export function subjectOf(r: CheckResult): string | undefined {
  if (r.disk !== undefined) return diskAddress(r.disk);
  if (r.group !== undefined) return r.group;
  if (r.storage !== undefined) return `storage ${r.storage}`;
  return undefined;
}

/** `subject: message`, or the message alone. */
function described(r: CheckResult): string {
  const subject = subjectOf(r);
  return subject === undefined ? r.message : `${subject}: ${r.message}`;
}

/** Results that are not OK, worst first, otherwise in report order. */
export function problemsOf(report: HealthReport): CheckResult[] {
  return report.results
    .filter((r) => r.status !== 'OK')
    .map((r, i) => ({ r, i }))
    .sort((a, b) => severityRank(b.r.status) - severityRank(a.r.status) || a.i - b.i)
    .map(({ r }) => r);
}

export function countsOf(report: HealthReport): Record<HealthStatus, number> {
  const counts = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0 };
  for (const r of report.results) counts[r.status]++;
  return counts;
}

function clean(text: string): string {
  return termText(text.replace(/\|/g, '/').replace(/\s+/g, ' ').trim());
}

export function summaryOf(report: HealthReport): string {
  const bad = problemsOf(report);
  if (bad.length === 0) {
    const of = (check: CheckResult['check']) => report.results.filter((r) => r.check === check);
    const disks = of('chain').filter((r) => r.values['exists'] === true);
    const unverified = disks.filter((r) => r.values['verified'] === false).length;
    return clean(
      `${of('storage').length} storage(s), ${disks.length} disk(s) and ${of('schedule').length} scheduled group(s) healthy` +
        (unverified > 0 ? `; ${unverified} chain(s) not verified (inactive)` : ''),
    );
  }
  const counts = countsOf(report);
  const tally = (['CRITICAL', 'UNKNOWN', 'WARNING'] as const)
    .filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s.toLowerCase()}`)
    .join(', ');
  const named = bad.slice(0, SUMMARY_ITEMS).map(described);
  const more = bad.length > SUMMARY_ITEMS ? `; and ${bad.length - SUMMARY_ITEMS} more` : '';
  // A check that could not run says only why.
  if (report.results.length === 1) return clean(named.join(''));
  return clean(`${tally}: ${named.join('; ')}${more}`);
}

/** A perfdata label: quoted, with quotes doubled (the guidelines' escaping). */
function label(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Performance data: free space per storage (warning below the reserve) and snapshot age per
 * scheduled group (warning and critical at 1.5 and 3 periods). Per-disk figures stay in --json
 * and --prometheus: a first line with thousands of them helps no graph.
 */
export function perfdataOf(report: HealthReport): string {
  const items: string[] = [];
  for (const r of report.results) {
    const v = r.values;
    if (r.check === 'space' && r.storage !== undefined) {
      items.push(
        `${label(`${r.storage} free`)}=${num(v['free_bytes'])}B;${num(v['reserve_bytes'])}:;;0;${num(v['size_bytes'])}`,
      );
    }
    if (r.check === 'schedule' && r.group !== undefined && typeof v['age_seconds'] === 'number') {
      items.push(
        `${label(`${r.group} age`)}=${num(v['age_seconds'])}s;${num(v['warn_after_seconds'])};${num(v['crit_after_seconds'])};0;`,
      );
    }
  }
  return items.join(' ');
}

function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v)) : '';
}

/**
 * The summary line, then (long output) every problem worst first and a count of the rest, or all
 * of them with `verbose`. A report of one result, such as a check that could not run, is the
 * summary line alone.
 */
export function renderNagios(report: HealthReport, opts: { verbose: boolean }): string[] {
  const perf = perfdataOf(report);
  const lines = [`LVCHAIN ${report.status} - ${summaryOf(report)}${perf ? ` | ${perf}` : ''}`];
  if (report.results.length <= 1) return lines;
  const bad = problemsOf(report);
  for (const r of bad) lines.push(clean(`${r.status} ${described(r)}`));
  const ok = report.results.filter((r) => r.status === 'OK');
  if (opts.verbose) for (const r of ok) lines.push(clean(`OK ${described(r)}`));
  else if (ok.length > 0 && bad.length > 0) lines.push(`${ok.length} other check(s) OK (-v lists them)`);
  return lines;
}

export function renderCheckJson(report: HealthReport, lvchainVersion: string): string {
  return JSON.stringify(
    {
      format_version: CHECK_FORMAT_VERSION,
      lvchain_version: lvchainVersion,
      now: isoSeconds(report.now),
      status: report.status,
      exit_code: EXIT_CODES[report.status],
      summary: summaryOf(report),
      counts: Object.fromEntries(STATUSES.map((s) => [s, countsOf(report)[s]])),
      results: report.results.map((r) => ({
        check: r.check,
        status: r.status,
        storage: r.storage ?? null,
        group: r.group ?? null,
        disk: r.disk ?? null,
        message: r.message,
        values: r.values,
      })),
    },
    null,
    2,
  );
}
