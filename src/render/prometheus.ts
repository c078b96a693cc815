/**
 * `lvchain check --prometheus`: the health report in the Prometheus text exposition format
 * (version 0.0.4), as node_exporter's textfile collector reads it. Every metric is a gauge read
 * from the report's result values, so the metrics say what --json says.
 *
 * Alert on the timestamps rather than the ages: a textfile is only as fresh as the last check,
 * and `time() - lvchain_last_snapshot_timestamp_seconds` keeps counting between runs.
 */
import type { CheckResult, HealthReport } from '../check/report.js';
import { EXIT_CODES } from '../check/status.js';

type Labels = Readonly<Record<string, string>>;

interface Family {
  name: string;
  help: string;
  samples: { labels: Labels; value: number }[];
}

interface MetricSpec {
  name: string;
  help: string;
  check: CheckResult['check'];
  /** The value, or undefined for no sample from this result. */
  value: (r: CheckResult) => number | undefined;
  labels: (r: CheckResult) => Labels;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const flag = (v: unknown): number | undefined => (typeof v === 'boolean' ? (v ? 1 : 0) : undefined);

const byStorage = (r: CheckResult): Labels => ({ storage: r.storage ?? '' });
const byGroup = (r: CheckResult): Labels => ({
  storage: r.storage ?? '',
  group: r.group ?? '',
  policy: typeof r.values['policy'] === 'string' ? r.values['policy'] : '',
});
const byDisk = (r: CheckResult): Labels => ({ storage: r.storage ?? '', disk: r.disk ?? '' });
/** Disk figures exist only for disks that exist. */
const existing = (r: CheckResult, v: number | undefined) => (r.values['exists'] === false ? undefined : v);

const METRICS: readonly MetricSpec[] = [
  {
    name: 'lvchain_storage_up',
    help: 'Whether the storage could be observed (1) or not (0).',
    check: 'storage',
    value: (r) => flag(r.values['up']),
    labels: byStorage,
  },
  {
    name: 'lvchain_storage_free_bytes',
    help: 'Free bytes: VG free space, or the available space of the directory file system.',
    check: 'space',
    value: (r) => num(r.values['free_bytes']),
    labels: byStorage,
  },
  {
    name: 'lvchain_storage_size_bytes',
    help: 'Size of the volume group, or of the file system holding the directory.',
    check: 'space',
    value: (r) => num(r.values['size_bytes']),
    labels: byStorage,
  },
  {
    name: 'lvchain_storage_reserve_bytes',
    help: 'Free space that plans never go below (reserve).',
    check: 'space',
    value: (r) => num(r.values['reserve_bytes']),
    labels: byStorage,
  },
  {
    name: 'lvchain_storage_metadata_free_bytes',
    help: 'Free bytes in the LVM metadata area (vg_mda_free).',
    check: 'metadata',
    value: (r) => num(r.values['metadata_free_bytes']),
    labels: byStorage,
  },
  {
    name: 'lvchain_storage_metadata_size_bytes',
    help: 'Size of the LVM metadata area (vg_mda_size); about half of it is usable.',
    check: 'metadata',
    value: (r) => num(r.values['metadata_size_bytes']),
    labels: byStorage,
  },
  {
    name: 'lvchain_last_snapshot_timestamp_seconds',
    help: "Creation time of the group's newest complete scheduled snapshot, in Unix seconds.",
    check: 'schedule',
    value: (r) => num(r.values['last_snapshot_timestamp_seconds']),
    labels: byGroup,
  },
  {
    name: 'lvchain_snapshot_age_seconds',
    help: "Age of the group's newest complete scheduled snapshot when the check ran.",
    check: 'schedule',
    value: (r) => num(r.values['age_seconds']),
    labels: byGroup,
  },
  {
    name: 'lvchain_next_snapshot_due_timestamp_seconds',
    help: 'First schedule fire after the newest snapshot, in Unix seconds: the group is due from then.',
    check: 'schedule',
    value: (r) => num(r.values['next_due_timestamp_seconds']),
    labels: byGroup,
  },
  {
    name: 'lvchain_schedule_period_seconds',
    help: "Nominal period of the group's schedule (the median gap between fires).",
    check: 'schedule',
    value: (r) => num(r.values['period_seconds']),
    labels: byGroup,
  },
  {
    name: 'lvchain_schedule_status',
    help: 'Freshness verdict of the check for the group: 0 OK, 1 WARNING (1.5 periods), 2 CRITICAL (3 periods).',
    check: 'schedule',
    value: (r) => EXIT_CODES[r.status],
    labels: byGroup,
  },
  {
    name: 'lvchain_chain_depth',
    help: 'Snapshot layers in the chain of the disk.',
    check: 'depth',
    value: (r) => num(r.values['depth']),
    labels: byDisk,
  },
  {
    name: 'lvchain_chain_depth_max',
    help: 'maxChainDepth of the disk (its policy, or the default).',
    check: 'depth',
    value: (r) => num(r.values['max_depth']),
    labels: byDisk,
  },
  {
    name: 'lvchain_chain_verified',
    help: 'Whether the qcow2 headers of the chain were read and checked (0: inactive LVs, read from names and tags).',
    check: 'chain',
    value: (r) => existing(r, flag(r.values['verified'])),
    labels: byDisk,
  },
  {
    name: 'lvchain_drift',
    help: 'Whether the disk has drifted (1): lvchain leaves it alone until it is fixed.',
    check: 'chain',
    value: (r) => existing(r, flag(r.values['drift'])),
    labels: byDisk,
  },
  {
    name: 'lvchain_interrupted_operations',
    help: 'Interrupted operations recorded on the disk; "lvchain apply" finishes them.',
    check: 'interrupted',
    value: (r) => num(r.values['operations']),
    labels: byDisk,
  },
];

export function renderPrometheus(report: HealthReport): string {
  const families: Family[] = [
    {
      name: 'lvchain_check_status',
      help: 'State of the last lvchain check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code).',
      samples: [{ labels: {}, value: EXIT_CODES[report.status] }],
    },
    {
      name: 'lvchain_check_timestamp_seconds',
      help: 'When the last lvchain check evaluated the schedules, in Unix seconds.',
      samples: [{ labels: {}, value: report.now / 1000 }],
    },
    {
      name: 'lvchain_check_results',
      help: 'Results of the last lvchain check, by state.',
      samples: (['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const).map((status) => ({
        labels: { status },
        value: report.results.filter((r) => r.status === status).length,
      })),
    },
  ];
  for (const m of METRICS) {
    const samples: Family['samples'] = [];
    for (const r of report.results) {
      if (r.check !== m.check) continue;
      const value = m.value(r);
      if (value !== undefined) samples.push({ labels: m.labels(r), value });
    }
    if (samples.length > 0) families.push({ name: m.name, help: m.help, samples });
  }
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (exposition format). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
