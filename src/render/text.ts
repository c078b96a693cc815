/** The plan for people, in Terraform's idiom (DESIGN §8; reference gitops-conventions §1.4). */
import type { CapacityReport, Diagnostic, Plan, ResourceChange } from '../model/plan.js';
import { formatBytes } from '../base/units.js';
import { commandLines } from './commands.js';
import { displayArgv } from '../base/quote.js';
import type { Style } from './style.js';
import { stripVTControlCharacters } from 'node:util';
import { termText } from './escape.js';
import { planSummaryLine } from './summary.js';
import { mergesAway } from '../model/plan-summary.js';
import { aboutDuration } from '../base/durations.js';
import { plural } from './md.js';

export interface TextOptions {
  style: Style;
}

export type Symbol = '+' | '~' | '-' | '-/+';

export function symbolOf(c: ResourceChange): Symbol {
  const a = c.change.actions;
  if (a.includes('delete') && a.includes('create')) return '-/+';
  if (a.includes('create')) return '+';
  if (a.includes('delete')) return '-';
  return '~';
}

function colorOf(sym: Symbol, st: Style): (s: string) => string {
  return sym === '+' ? st.green : sym === '-' ? st.red : sym === '~' ? st.yellow : st.yellow;
}

function headline(c: ResourceChange): string {
  return termText(headlineOf(c));
}

function headlineOf(c: ResourceChange): string {
  if (c.operation.op === 'resume') return `${c.address} will finish an interrupted operation`;
  if (c.operation.op === 'cleanup') return `${c.address} will be cleaned up`;
  if (c.operation.op === 'rollback') return `${c.address} will be rolled back to ${c.operation.snap}`;
  if (c.operation.op === 'delete') return `${c.address} will be merged away (its data is kept)`;
  if (c.operation.op === 'rederive')
    return `${c.address} will get its metadata re-derived: Proxmox VE changed the chain`;
  switch (symbolOf(c)) {
    case '+':
      return `${c.address} will be created`;
    case '-':
      return `${c.address} will be destroyed`;
    case '-/+':
      return `${c.address} must be replaced`;
    case '~':
      return `${c.address} will be updated in-place`;
  }
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return termText(JSON.stringify(v));
  if (Array.isArray(v)) return `[${v.map(valueText).join(', ')}]`;
  return String(v);
}

function attributes(c: ResourceChange, sym: Symbol, st: Style): string[] {
  const before = c.change.before ?? {};
  const after = c.change.after ?? {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const width = Math.max(0, ...keys.map((k) => k.length));
  const color = colorOf(sym, st);
  return keys.map((k) => {
    const b = before[k];
    const a = after[k];
    const show = (v: unknown) =>
      (k === 'size' || k === 'from' || k === 'to') && typeof v === 'number'
        ? `${formatBytes(v)} (${v})`
        : valueText(v);
    const key = termText(k.padEnd(width));
    if (!(k in before)) return `      ${color('+')} ${key} = ${show(a)}`;
    if (!(k in after)) return `      ${color('-')} ${key} = ${show(b)}`;
    return `      ${color('~')} ${key} = ${show(b)} -> ${show(a)}`;
  });
}

export function mergeLine(c: ResourceChange): string | undefined {
  if (c.operation.op !== 'delete') return undefined;
  const { merge, commit_bytes, stream_bytes, chosen_because, at_most_bytes } = c.operation;
  const chosen = merge === 'merge_commit' ? 'commit' : 'stream';
  const fig = (n: number | null, way: string) =>
    n !== null
      ? `${formatBytes(n)} (${n} bytes)`
      : way === chosen && at_most_bytes !== undefined
        ? `unknown, at most ${formatBytes(at_most_bytes)}`
        : 'unknown';
  const why = {
    cheaper: 'cheaper',
    tie: 'equal cost; streaming keeps the child in place',
    forced: 'forced by --merge-direction',
    no_estimate: 'no estimate: the chain is not readable now',
    live_engine: 'the VM is running, and its QEMU can merge this one only this way',
    proxmox: "Proxmox's choice: it merges the VM's snapshots",
  }[chosen_because];
  return `merge: ${chosen} (${why}); commit would copy ${fig(commit_bytes, 'commit')}, stream would copy ${fig(stream_bytes, 'stream')}`;
}

/** How long a change's merges should take, and what the estimate rests on. */
export function durationLine(c: ResourceChange): string | undefined {
  const e = c.x_estimate;
  if (!e) return undefined;
  const rate = `${formatBytes(e.bytes_per_second)}/s`;
  const basis = {
    recorded: `${rate}, measured over ${plural(e.merges, 'recent merge')} on ${c.storage}`,
    assumed: `an assumed ${rate}, as ${c.storage} has no merge on record yet`,
    merge_rate: `${rate}, held back by the mergeRate of ${c.storage}`,
  }[e.basis];
  return `time: ${aboutDuration(e.seconds, e.at_most)} at ${basis}`;
}

/** The snapshot times a re-derivation could only estimate: no record of them survived. */
export function estimateLines(c: ResourceChange): string[] {
  if (c.operation.op !== 'rederive') return [];
  return c.operation.estimated.map(
    ({ snap, at, from }) =>
      `time of ${snap}: about ${at}, estimated from ${from === 'child_created' ? 'when the layer above it was created' : "the image's last modification"} (no record of it survived)`,
  );
}

/** The resource block's type and name: a volume group is named by itself, a snapshot by its disk. */
function resourceLabel(c: ResourceChange): [string, string] {
  switch (c.type) {
    case 'lvchain_vg':
      return ['volume_group', c.name];
    case 'lvchain_disk':
      return ['disk', c.disk];
    case 'lvchain_snapshot':
      return ['snapshot', `${c.disk}@${c.name}`];
  }
}

/** A change as Terraform shows it: the headline, the reason and the attributes (no steps). */
export function renderChangeDiff(c: ResourceChange, st: Style): string[] {
  const sym = symbolOf(c);
  const color = colorOf(sym, st);
  const lines: string[] = [];
  lines.push(st.bold(`  # ${headline(c)}`));
  const because = termText(c.reason_detail ?? c.action_reason.replace(/_/g, ' '));
  lines.push(`  # (because ${because})`);
  if (c.irreversible) lines.push(st.red(`  # irreversible: data is thrown away`));
  const [kind, name] = resourceLabel(c);
  const label = termText(name);
  const attrs = attributes(c, sym, st);
  lines.push(
    `${sym === '-/+' ? color('-/+') : `  ${color(sym)}`} ${kind} "${label}" {${attrs.length === 0 ? ' }' : ''}`,
  );
  if (attrs.length > 0) lines.push(...attrs, '    }');
  const merge = mergeLine(c);
  if (merge) lines.push(`    ${st.cyan(merge)}`);
  const duration = durationLine(c);
  if (duration) lines.push(`    ${st.cyan(termText(duration))}`);
  for (const line of estimateLines(c)) lines.push(`    ${st.yellow(termText(line))}`);
  return lines;
}

/** The ordered steps of a change and the commands each runs. */
export function renderChangeSteps(c: ResourceChange, st: Style): string[] {
  const lines = [`    steps on ${termText(c.storage)}:`];
  const hook = (when: string, argv: readonly string[] | undefined) => {
    if (argv)
      lines.push(
        `      ${when} hook (once for the snapshot, ${(c.x_hooks?.timeout_ms ?? 0) / 1000} s at most):`,
        st.dim(`          $ ${termText(displayArgv(argv))}`),
      );
  };
  hook('pre-snapshot', c.x_hooks?.pre);
  c.x_steps.forEach((s, i) => {
    lines.push(`      ${String(i + 1).padStart(2)}. ${termText(s.description)}`);
    for (const line of commandLines(s.commands)) lines.push(st.dim(`          $ ${termText(line)}`));
  });
  hook('post-snapshot', c.x_hooks?.post);
  return lines;
}

export function renderChange(c: ResourceChange, st: Style): string {
  return [...renderChangeDiff(c, st), ...renderChangeSteps(c, st)].join('\n');
}

/**
 * A diagnostic in a frame. Its summary and detail are one line each, whatever names they quote;
 * `hints` (an error's advice) are lines of their own.
 */
export function renderDiagnostic(d: Diagnostic, st: Style, hints: readonly string[] = []): string {
  const title =
    d.severity === 'error'
      ? st.red(st.bold('Error: '))
      : d.severity === 'warning'
        ? st.yellow(st.bold('Warning: '))
        : st.bold('Note: ');
  const edge = d.severity === 'error' ? st.red : d.severity === 'warning' ? st.yellow : (s: string) => s;
  const body = [`${title}${termText(d.summary)}`];
  if (d.address) body.push('', `  on ${termText(d.address)}`);
  if (d.detail) body.push('', termText(d.detail));
  if (hints.length > 0) body.push('', ...hints.map(termText));
  return [edge('╷'), ...body.map((l) => `${edge('│')} ${l}`), edge('╵')].join('\n');
}

export function renderCapacity(reports: readonly CapacityReport[], st: Style): string {
  if (reports.length === 0) return '';
  const rows = reports.map((r) => [
    r.storage,
    formatBytes(r.free_before),
    formatBytes(r.free_min),
    formatBytes(r.free_after),
    formatBytes(r.reserve),
    r.ok ? 'ok' : st.red('REFUSED'),
  ]);
  const head = ['Storage', 'Free now', 'Lowest', 'After', 'Reserve', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => stripAnsi(r[i] as string).length)));
  const fmt = (r: string[]) =>
    '  ' +
    r
      .map((c, i) => c + ' '.repeat((widths[i] as number) - stripAnsi(c).length))
      .join('  ')
      .trimEnd();
  return ['Free space during the plan:', fmt(head), ...rows.map(fmt)].join('\n');
}

function stripAnsi(s: string): string {
  return stripVTControlCharacters(s);
}

export function renderPlanText(plan: Plan, opts: TextOptions): string {
  const st = opts.style;
  const out: string[] = [];
  if (plan.resource_drift.length > 0) {
    out.push(st.bold('Note: Objects have changed outside of lvchain'), '');
    out.push(
      'lvchain found these disks in a state it will not touch until they are repaired or adopted:',
      '',
    );
    for (const d of plan.resource_drift) {
      out.push(`  # ${termText(d.address)} on ${termText(d.storage)} is left alone:`);
      for (const p of d.problems) out.push(`  #   ${termText(p.code)}: ${termText(p.message)}`);
    }
    out.push('');
  }
  // Context before the body, so the summary line stays last when nothing needs attention.
  const worst = plan.capacity.filter((r) => r.worst_case !== undefined);
  if (worst.length > 0) out.push(...worst.map((r) => worstCaseLine(r, st)), '');
  const changes = plan.resource_changes;
  // An errored plan is not "no changes": its errors, below, say what stops it.
  if (changes.length === 0 && !plan.errored) {
    out.push(st.green(st.bold('No changes.')) + st.bold(' Your storage matches the configuration.'));
  } else if (changes.length > 0) {
    const used = new Set(changes.map(symbolOf));
    out.push(
      'lvchain used the observed storage to build the following execution plan. Resource actions are indicated with the following symbols:',
    );
    if (used.has('+')) out.push(`  ${st.green('+')} create`);
    if (used.has('~')) out.push(`  ${st.yellow('~')} update in-place`);
    // A merge removes a snapshot but keeps its data: it is not listed as a destroy.
    if (changes.some((c) => symbolOf(c) === '-' && !mergesAway(c))) out.push(`  ${st.red('-')} destroy`);
    if (changes.some(mergesAway)) out.push(`  ${st.red('-')} merge a snapshot away (its data is kept)`);
    if (used.has('-/+')) out.push(`${st.yellow('-/+')} destroy and then create replacement`);
    out.push('', 'lvchain will perform the following actions:', '');
    for (const c of changes) out.push(renderChange(c, st), '');
    out.push(st.bold(planSummaryLine(plan.summary)));
  }
  const cap = renderCapacity(
    plan.capacity.filter((r) => r.free_min !== r.free_before || !r.ok),
    st,
  );
  // One blank line between blocks, also where an errored plan has no body above its errors.
  const block = (text: string) => out.push(...(out.length > 0 && out.at(-1) !== '' ? [''] : []), text);
  if (cap) block(cap);
  for (const d of plan.diagnostics) block(renderDiagnostic(d, st));
  return out.join('\n');
}

/** The storage the declared disks can need at most, against what there is (DESIGN §9). */
export function worstCaseLine(r: CapacityReport, st: Style): string {
  if (r.worst_case === null || r.worst_case === undefined) {
    return st.yellow(`Worst case on ${r.storage}: unbounded (a policy keeps snapshots without limit)`);
  }
  const holds = `${formatBytes(r.size)} in all, ${formatBytes(r.free_before)} of it free now`;
  // Thick LVM allocates each layer's LV in full when it is made: the figure is a cost, not a risk.
  if (r.kind === 'lvm') {
    const line = `Up front on ${r.storage}: the declared disks take up to ${formatBytes(r.worst_case)} once their policies keep every snapshot they allow (thick LVM allocates each LV in full when it is made); the VG holds ${holds}`;
    return r.worst_case > r.size
      ? st.yellow(`${line}: not enough, so snapshots will fail before retention is full`)
      : line;
  }
  const line = `Worst case on ${r.storage}: the declared disks can need up to ${formatBytes(r.worst_case)} (each disk's kept snapshots plus its top, fully written); the storage holds ${holds}`;
  return r.worst_case > r.size ? st.yellow(`${line}: not enough if every snapshot fills`) : line;
}
