/**
 * The pieces of the PR comment (DESIGN §8), each rendered from the plan data alone: the
 * per-storage table, the deletion warning, diagnostics, drift, and one item per change for the
 * collapsible diff, reasons and steps. The diff and the steps reuse the text renderer, so the
 * comment and the terminal never disagree (STYLE 8).
 */
import type { CapacityReport, Plan, ResourceChange } from '../model/plan.js';
import { formatBytes } from '../base/units.js';
import { aboutDuration } from '../base/durations.js';
import { summarize } from '../model/plan-summary.js';
import { snapshotAddress } from '../model/address.js';
import { makeStyle } from './style.js';
import { mergeLine, renderChangeDiff, renderChangeSteps, symbolOf } from './text.js';
import { mdCode, mdText, plural, row } from './md.js';

const plain = makeStyle(false);

export interface Tally {
  create: number;
  snapshot: number;
  update: number;
  merge: number;
  destroy: number;
  bytes: number;
  /** Estimated seconds of copying; `assumed` when the storage had no merge on record. */
  seconds: number;
  assumed: boolean;
  /** What merges from chains not read now copy at most; their time counts that much. */
  atMostBytes: number;
}

const emptyTally = (): Tally => ({
  create: 0,
  snapshot: 0,
  update: 0,
  merge: 0,
  destroy: 0,
  bytes: 0,
  seconds: 0,
  assumed: false,
  atMostBytes: 0,
});

/** Which column of the summary table a change counts in. */
function column(c: ResourceChange): keyof Omit<Tally, 'bytes' | 'seconds' | 'assumed' | 'atMostBytes'> {
  switch (c.operation.op) {
    case 'create':
    case 'create_vg':
      return 'create';
    case 'snapshot':
      return 'snapshot';
    case 'delete':
      return 'merge';
    case 'destroy':
      return 'destroy';
    case 'grow':
    case 'set_protect':
    case 'rollback':
    case 'resume':
    case 'cleanup':
    case 'adopt':
    case 'rederive':
      return 'update';
  }
}

export function tallyByStorage(plan: Plan): Map<string, Tally> {
  const out = new Map<string, Tally>();
  for (const r of plan.capacity) out.set(r.storage, emptyTally());
  for (const c of plan.resource_changes) {
    const t = out.get(c.storage) ?? emptyTally();
    t[column(c)]++;
    if (c.operation.op === 'rollback') t.destroy += c.operation.discard.length;
    t.bytes += summarize([c]).bytes_to_copy;
    t.seconds += c.x_estimate?.seconds ?? 0;
    t.assumed ||= c.x_estimate?.basis === 'assumed';
    if (c.operation.op === 'delete') t.atMostBytes += c.operation.at_most_bytes ?? 0;
    out.set(c.storage, t);
  }
  return out;
}

function bytesCell(n: number): string {
  return n === 0 ? '0 B' : `${formatBytes(n)} (${n.toLocaleString('en-US')} B)`;
}

function freeCell(value: number, before: number): string {
  const delta = value - before;
  if (delta === 0) return formatBytes(value);
  return `${formatBytes(value)} (${delta > 0 ? '+' : '-'}${formatBytes(Math.abs(delta))})`;
}

function capacityCells(r: CapacityReport | undefined): string[] {
  if (!r) return ['', '', '', '', ''];
  return [
    formatBytes(r.free_before),
    freeCell(r.free_min, r.free_before),
    freeCell(r.free_after, r.free_before),
    formatBytes(r.reserve),
    r.ok ? 'ok' : '**refused**: below the reserve',
  ];
}

/** One row per storage: what happens there, the bytes merges copy, and its free space. */
export function summaryTable(plan: Plan): string {
  const tallies = tallyByStorage(plan);
  if (tallies.size === 0) return '';
  const capacity = new Map(plan.capacity.map((r) => [r.storage, r]));
  const head = row([
    'Storage',
    'Create',
    'Snapshot',
    'Update',
    'Merge',
    'Destroy',
    'Bytes to copy',
    'Time',
    'Free before',
    'Free at peak',
    'Free after',
    'Reserve',
    'Space',
  ]);
  const align = row(['---', ...Array(7).fill('--:'), ...Array(4).fill('--:'), '---']);
  const lines = [head, align];
  for (const [storage, t] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(
      row([
        mdCode(storage),
        String(t.create),
        String(t.snapshot),
        String(t.update),
        String(t.merge),
        t.destroy > 0 ? `**${t.destroy}**` : '0',
        t.atMostBytes > 0
          ? `${bytesCell(t.bytes)}, up to ${formatBytes(t.atMostBytes)} unread`
          : bytesCell(t.bytes),
        t.bytes + t.atMostBytes === 0
          ? ''
          : `${aboutDuration(t.seconds, t.atMostBytes > 0)}${t.assumed ? ' (assumed rate)' : ''}`,
        ...capacityCells(capacity.get(storage)),
      ]),
    );
  }
  return lines.join('\n');
}

/** A deletion as a reviewer must read it: what, how (merge and bytes), and why. */
function deletionLine(c: ResourceChange): string {
  const because = mdText(c.reason_detail ?? c.action_reason.replace(/_/g, ' '));
  if (c.operation.op === 'delete') {
    const merge = (mergeLine(c) ?? '').replace(/^merge: /, '');
    return `- ${mdCode(c.address)} is merged away by ${mdText(merge)}. Because: ${because}.`;
  }
  if (c.operation.op === 'rollback') {
    const discarded = c.operation.discard.map((s) => mdCode(snapshotAddress(c.disk, s))).join(', ');
    return `- :bangbang: **irreversible**: ${mdCode(c.address)} is rolled back to ${mdCode(c.operation.snap)}, throwing away what it holds since then${discarded ? `, and discards ${discarded}` : ''}. Because: ${because}.`;
  }
  const what = c.operation.op === 'destroy' ? 'is destroyed with its data' : 'throws data away';
  return `- ${c.irreversible ? ':bangbang: **irreversible**: ' : ''}${mdCode(c.address)} ${what}. Because: ${because}.`;
}

export function isDeletion(c: ResourceChange): boolean {
  return c.irreversible || c.change.actions.includes('delete');
}

/** Deletions, irreversible ones first, so a cut list still names every irreversible change. */
export function deletionItems(plan: Plan): { items: string[]; irreversible: number } {
  const dels = plan.resource_changes.filter(isDeletion);
  const ordered = [...dels.filter((c) => c.irreversible), ...dels.filter((c) => !c.irreversible)];
  return { items: ordered.map(deletionLine), irreversible: dels.filter((c) => c.irreversible).length };
}

export function deletionHeading(count: number, irreversible: number): string {
  const irr = irreversible > 0 ? `, ${irreversible.toLocaleString('en-US')} of them irreversible` : '';
  return [
    `### :warning: This plan deletes ${plural(count, 'resource')}${irr}`,
    '',
    'Check every item before you approve. A merge removes a point in time and keeps the data the newer layers need; an irreversible change throws data away for good.',
    '',
  ].join('\n');
}

export function diagnosticItems(plan: Plan): string[] {
  return plan.diagnostics.map((d) => {
    const icon =
      d.severity === 'error' ? ':x:' : d.severity === 'warning' ? ':warning:' : ':information_source:';
    const where = d.address ? ` (${mdCode(d.address)})` : '';
    const detail = d.detail ? `: ${mdText(d.detail)}` : '';
    return `- ${icon} **${mdText(d.summary)}**${where}${detail}`;
  });
}

export function driftItems(plan: Plan): string[] {
  return plan.resource_drift.map(
    (d) =>
      `- ${mdCode(d.address)} on ${mdCode(d.storage)} is left alone: ${d.problems.map((p) => `${mdCode(p.code)} ${mdText(p.message)}`).join('; ')}`,
  );
}

/** Terraform's diff with the markers moved to column 0, so GitHub's `diff` highlighter colours them. */
export function diffItem(c: ResourceChange): string {
  return renderChangeDiff(c, plain)
    .map((l) => l.replace(/^(\s*)(-\/\+|[-+~])(?=\s)/, '$2$1'))
    .join('\n');
}

export function stepsItem(c: ResourceChange): string {
  return [`${c.address}`, ...renderChangeSteps(c, plain)].join('\n');
}

function actionWord(c: ResourceChange): string {
  switch (symbolOf(c)) {
    case '+':
      return 'create';
    case '-':
      return 'destroy';
    case '-/+':
      return 'replace';
    case '~':
      return 'update';
  }
}

export const REASONS_HEAD = [
  row(['Address', 'Action', 'Reason', 'Detail', 'Bytes to copy']),
  row(['---', '---', '---', '---', '--:']),
].join('\n');

export function reasonItem(c: ResourceChange): string {
  const merge =
    c.operation.op === 'delete' ? ` (${c.operation.merge === 'merge_commit' ? 'commit' : 'stream'})` : '';
  const bytes = summarize([c]).bytes_to_copy;
  return row([
    mdCode(c.address),
    `${actionWord(c)}${merge}${c.irreversible ? ' **irreversible**' : ''}`,
    mdCode(c.action_reason),
    mdText(c.reason_detail ?? ''),
    c.operation.op === 'delete' ? bytesCell(bytes) : '',
  ]);
}
