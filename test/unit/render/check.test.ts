/**
 * The outputs of `lvchain check`: the Nagios plugin line, and the Prometheus text format, read
 * back by a strict reader written from the spec (test/helpers/exposition.ts) and by the npm
 * parser parse-prometheus-text-format, which checks the escaping independently.
 */
import { describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { CheckResult, HealthReport } from '../../../src/check/report.js';
import { overallStatus } from '../../../src/check/report.js';
import { renderCheckJson, renderNagios } from '../../../src/render/check.js';
import { renderPrometheus } from '../../../src/render/prometheus.js';
import { parseExposition } from '../../helpers/exposition.js';

const NOW = Date.parse('2026-01-05T13:01:00Z');

function report(results: CheckResult[]): HealthReport {
  return { now: NOW, status: overallStatus(results), results };
}

const space = (storage: string, free: number): CheckResult => ({
  check: 'space',
  status: free < 100 ? 'WARNING' : 'OK',
  message: `free ${free}`,
  storage,
  values: { free_bytes: free, size_bytes: 1000, reserve_bytes: 100 },
});

const schedule = (
  group: string,
  policy: string,
  age: number,
  status: CheckResult['status'],
): CheckResult => ({
  check: 'schedule',
  status,
  message: `last snapshot taken ${age}s ago`,
  storage: 'lab',
  group,
  values: {
    policy,
    age_seconds: age,
    period_seconds: 3600,
    warn_after_seconds: 5400,
    crit_after_seconds: 10800,
    last_snapshot_timestamp_seconds: NOW / 1000 - age,
    next_due_timestamp_seconds: NOW / 1000 - age + 3600,
  },
});

const disk = (storage: string, name: string, drift: boolean): CheckResult[] => [
  {
    check: 'chain',
    status: drift ? 'CRITICAL' : 'OK',
    message: drift ? 'drift: the backing of top | x could not be resolved' : '2 layer(s)',
    storage,
    disk: name,
    values: { exists: true, verified: !drift, drift, layers: 2 },
  },
  { check: 'depth', status: 'OK', message: '1', storage, disk: name, values: { depth: 1, max_depth: 32 } },
  { check: 'interrupted', status: 'OK', message: 'none', storage, disk: name, values: { operations: 0 } },
];

describe('Nagios output', () => {
  it('is one summary line with perfdata, then the problems, worst first', () => {
    const lines = renderNagios(
      report([
        space('lab', 50),
        schedule('guest.web', 'hourly', 10_860, 'CRITICAL'),
        ...disk('lab', 'vm-401-disk-0', true),
      ]),
      { verbose: false },
    );
    expect(lines[0]).toBe(
      "LVCHAIN CRITICAL - 2 critical, 1 warning: guest.web: last snapshot taken 10860s ago; disk.vm-401-disk-0: drift: the backing of top / x could not be resolved; storage lab: free 50 | 'lab free'=50B;100:;;0;1000 'guest.web age'=10860s;5400;10800;0;",
    );
    expect(lines.slice(1)).toEqual([
      'CRITICAL guest.web: last snapshot taken 10860s ago',
      'CRITICAL disk.vm-401-disk-0: drift: the backing of top / x could not be resolved',
      'WARNING storage lab: free 50',
      '2 other check(s) OK (-v lists them)',
    ]);
  });

  it('names at most three problems in the summary', () => {
    const many = [1, 2, 3, 4, 5].map((i) => schedule(`guest.g${i}`, 'hourly', 6000, 'WARNING'));
    const [first] = renderNagios(report(many), { verbose: false });
    expect(first).toMatch(/^LVCHAIN WARNING - 5 warning: guest\.g1: .*; guest\.g3: [^;]*; and 2 more \| /);
  });

  it('OK, with counts, and quotes doubled in perfdata labels', () => {
    const [first, ...rest] = renderNagios(
      report([space("o'brien", 500), ...disk("o'brien", 'vm-1', false)]),
      {
        verbose: false,
      },
    );
    expect(first).toBe(
      "LVCHAIN OK - 0 storage(s), 1 disk(s) and 0 scheduled group(s) healthy | 'o''brien free'=500B;100:;;0;1000",
    );
    expect(rest).toEqual([]);
  });
});

describe('JSON output', () => {
  it('carries every result with its figures', () => {
    const doc = JSON.parse(
      renderCheckJson(report([space('lab', 50), ...disk('lab', 'vm-1', false)]), '0.1.0'),
    ) as {
      status: string;
      exit_code: number;
      counts: Record<string, number>;
      results: unknown[];
    };
    expect(doc).toMatchObject({
      status: 'WARNING',
      exit_code: 1,
      counts: { OK: 3, WARNING: 1, CRITICAL: 0, UNKNOWN: 0 },
    });
    expect(doc.results).toHaveLength(4);
    expect(doc.results[0]).toEqual({
      check: 'space',
      status: 'WARNING',
      storage: 'lab',
      group: null,
      disk: null,
      message: 'free 50',
      values: { free_bytes: 50, size_bytes: 1000, reserve_bytes: 100 },
    });
  });
});

describe('Prometheus output', () => {
  // Names lvchain accepts are tamer, but the renderer must not depend on that.
  const nasty = 'a"b\\c\nd';
  const sample = report([
    space(nasty, 50),
    space('lab', 500),
    schedule(`guest.${nasty}`, 'hourly', 10_860, 'CRITICAL'),
    ...disk('lab', 'vm-401-disk-0', true),
  ]);

  it('parses strictly as the text exposition format, with escaped label values', () => {
    const text = renderPrometheus(sample);
    const families = parseExposition(text);
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('lvchain_check_status')?.samples).toEqual([
      { name: 'lvchain_check_status', labels: {}, value: 2 },
    ]);
    expect(byName.get('lvchain_check_timestamp_seconds')?.samples[0]?.value).toBe(NOW / 1000);
    expect(byName.get('lvchain_storage_free_bytes')?.samples).toEqual([
      { name: 'lvchain_storage_free_bytes', labels: { storage: nasty }, value: 50 },
      { name: 'lvchain_storage_free_bytes', labels: { storage: 'lab' }, value: 500 },
    ]);
    expect(byName.get('lvchain_snapshot_age_seconds')?.samples[0]?.labels).toEqual({
      storage: 'lab',
      group: `guest.${nasty}`,
      policy: 'hourly',
    });
    expect(byName.get('lvchain_drift')?.samples[0]).toMatchObject({
      labels: { disk: 'vm-401-disk-0' },
      value: 1,
    });
    expect(byName.get('lvchain_check_results')?.samples.map((s) => [s.labels['status'], s.value])).toEqual([
      ['OK', 3],
      ['WARNING', 1],
      ['CRITICAL', 2],
      ['UNKNOWN', 0],
    ]);
    for (const f of families) {
      expect(f.type, f.name).toBe('gauge');
      expect(f.help, f.name).toBeTruthy();
      expect(f.name).toMatch(/^lvchain_/);
    }
  });

  it('reads back the same through an independent parser', () => {
    const theirs = parsePrometheusTextFormat(renderPrometheus(sample));
    const ours = parseExposition(renderPrometheus(sample));
    expect(theirs.map((f) => [f.name, f.type])).toEqual(ours.map((f) => [f.name, 'GAUGE']));
    for (const f of ours) {
      const other = theirs.find((t) => t.name === f.name);
      expect(other?.metrics.map((m) => [m.labels ?? {}, Number(m.value)])).toEqual(
        f.samples.map((s) => [s.labels, s.value]),
      );
    }
  });

  it('reports a check that could not run', () => {
    const failed = report([
      { check: 'run', status: 'UNKNOWN', message: 'config', values: { error_code: 'config_invalid' } },
    ]);
    const families = parseExposition(renderPrometheus(failed));
    expect(families.map((f) => f.name)).toEqual([
      'lvchain_check_status',
      'lvchain_check_timestamp_seconds',
      'lvchain_check_results',
    ]);
    expect(families[0]?.samples[0]?.value).toBe(3);
  });
});

describe('the strict exposition reader', () => {
  it("accepts the spec's example", () => {
    const example = [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      '# Escaping in label values:',
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      '',
      'metric_without_timestamp_and_labels 12.47',
      'something_weird{problem="division by zero"} +Inf -3982045',
      '# HELP http_request_duration_seconds A histogram of the request duration.',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '',
    ].join('\n');
    const families = parseExposition(example);
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['http_requests_total', 'counter', 2],
      ['msdos_file_access_time_seconds', 'untyped', 1],
      ['metric_without_timestamp_and_labels', 'untyped', 1],
      ['something_weird', 'untyped', 1],
      ['http_request_duration_seconds', 'histogram', 4],
    ]);
    expect(families[1]?.samples[0]?.labels).toEqual({
      path: 'C:\\DIR\\FILE.TXT',
      error: 'Cannot find file:\n"FILE.TXT"',
    });
  });

  it.each([
    ['no final line feed', 'm 1'],
    ['unterminated label value', 'm{a="x} 1\n'],
    ['unknown escape', 'm{a="\\t"} 1\n'],
    ['bad value', 'm abc\n'],
    ['bad metric name', '1m 1\n'],
    ['bad label name', 'm{1a="x"} 1\n'],
    ['reserved label name', 'm{__a="x"} 1\n'],
    ['duplicate label', 'm{a="x",a="y"} 1\n'],
    ['duplicate sample', 'm{a="x"} 1\nm{a="x"} 2\n'],
    ['split family', 'm 1\nn 1\nm{a="x"} 2\n'],
    ['TYPE after samples', 'm 1\n# TYPE m gauge\n'],
    ['second TYPE', '# TYPE m gauge\n# TYPE m gauge\nm 1\n'],
    ['unknown type', '# TYPE m meter\nm 1\n'],
    ['bad HELP escape', '# HELP m a \\t b\nm 1\n'],
    ['missing value', 'm{a="x"}\n'],
    ['bad timestamp', 'm 1 1.5\n'],
    ['junk after the timestamp', 'm 1 2 3\n'],
  ])('rejects %s', (_why, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});
