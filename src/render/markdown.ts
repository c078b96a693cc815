/**
 * The plan as a pull-request comment (DESIGN §8; reference gitops-conventions §2, §6.15–17):
 * a hidden marker to find the comment again, a title with the result, a deletion warning that
 * names every deletion with its bytes and reason, a summary table per storage, and collapsible
 * diff, reasons and steps. The whole stays under a character budget; what is cut is said.
 */
import type { Plan } from '../model/plan.js';
import { details, fence, mdCode, mdText, plural } from './md.js';
import { planCounts, planSummaryLine } from './summary.js';
import {
  REASONS_HEAD,
  deletionHeading,
  deletionItems,
  diagnosticItems,
  diffItem,
  driftItems,
  reasonItem,
  stepsItem,
  summaryTable,
} from './markdown-parts.js';

/** GitHub rejects comment bodies over 65,536 characters; keep a margin. */
export const MARKDOWN_LIMIT = 65_000;

export interface MarkdownOptions {
  /** The config as the user named it (`-c`): shown in the title, and the marker's id. */
  target: string;
  /** Longest output in characters (default MARKDOWN_LIMIT). */
  maxChars?: number;
  /** The CI run whose log holds the full plan, for the truncation note. */
  runUrl?: string;
}

/** The first line of every comment: CI finds its earlier comment by this exact string. */
export function commentMarker(target: string): string {
  const id = target.replace(/[^A-Za-z0-9._/@+=:,-]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
  return `<!-- lvchain-plan-comment: ${id.replace(/--/g, '-%2d')} -->`;
}

interface Cut {
  /** The part that was cut (`diff`), or '' for list items counted by their unit. */
  what: string;
  unit: string;
  /** Where list items were cut from, e.g. " from the deletion warning". */
  where: string;
  shown: number;
  total: number;
}

/** A bullet list under a heading, cut to `cap` characters; the cut is recorded. */
function cappedList(
  heading: string,
  items: readonly string[],
  cap: number,
  unit: { one: string; where: string },
  cuts: Cut[],
): string {
  if (items.length === 0) return '';
  const lines = [heading];
  let size = heading.length;
  let shown = 0;
  for (const item of items) {
    if (size + item.length + 1 > cap) break;
    lines.push(item);
    size += item.length + 1;
    shown++;
  }
  if (shown < items.length) {
    lines.push(
      `- _… and ${plural(items.length - shown, `more ${unit.one}`, `more ${unit.one}s`)}, not listed here (cut to fit)._`,
    );
    cuts.push({ what: '', unit: unit.one, where: unit.where, shown, total: items.length });
  }
  return lines.join('\n');
}

interface Block {
  noun: string;
  items: string[];
  wrap(shown: readonly string[], hidden: number): string;
}

function moreNote(hidden: number): string {
  return hidden > 0 ? `\n\n_… ${plural(hidden, 'more change')} not shown here (cut to fit)._` : '';
}

function blocks(plan: Plan): Block[] {
  const changes = plan.resource_changes;
  if (changes.length === 0) return [];
  const steps = changes.reduce((n, c) => n + c.x_steps.length, 0);
  return [
    {
      noun: 'diff',
      items: changes.map(diffItem),
      wrap: (shown, hidden) =>
        details(
          `Diff: ${plural(changes.length, 'change')}`,
          (shown.length > 0 ? fence('diff', shown.join('\n\n')) : '') + moreNote(hidden),
        ),
    },
    {
      noun: 'reasons',
      items: changes.map(reasonItem),
      wrap: (shown, hidden) =>
        details(
          `Reasons: ${plural(changes.length, 'change')}`,
          (shown.length > 0 ? [REASONS_HEAD, ...shown].join('\n') : '') + moreNote(hidden),
        ),
    },
    {
      noun: 'steps',
      items: changes.map(stepsItem),
      wrap: (shown, hidden) =>
        details(
          `Steps: ${plural(changes.length, 'change')}, ${plural(steps, 'step')}`,
          (shown.length > 0 ? fence('text', shown.join('\n\n')) : '') + moreNote(hidden),
        ),
    },
  ];
}

/**
 * As many leading items as the budget holds, block by block in priority order (diff, reasons,
 * steps). Once a block is cut, the blocks after it are left out whole, so what is shown is
 * always a prefix: the top of the diff rather than scraps of every block.
 */
function packBlocks(all: readonly Block[], budget: number, cuts: Cut[]): string[] {
  const out: string[] = [];
  let left = budget;
  let full = true;
  for (const b of all) {
    const shown: string[] = [];
    if (full) {
      let size = b.wrap([], b.items.length).length + 2;
      for (const item of b.items) {
        if (size + item.length + 2 > left) break;
        shown.push(item);
        size += item.length + 2;
      }
    }
    if (shown.length < b.items.length) {
      full = false;
      cuts.push({ what: b.noun, unit: 'change', where: '', shown: shown.length, total: b.items.length });
    }
    if (shown.length === 0) continue;
    const text = b.wrap(shown, b.items.length - shown.length);
    out.push(text);
    left -= text.length + 2;
  }
  return out;
}

function title(plan: Plan, target: string): string {
  const where = mdCode(target);
  if (plan.errored) return `## :x: lvchain plan failed for ${where}`;
  const drift = plan.resource_drift.length;
  const driftNote = drift > 0 ? `, ${plural(drift, 'disk')} drifted` : '';
  if (plan.resource_changes.length === 0)
    return `## ${drift > 0 ? ':information_source:' : ':white_check_mark:'} lvchain plan for ${where}: no changes${driftNote}`;
  const s = plan.summary;
  const icon = plan.resource_changes.some((c) => c.irreversible || c.change.actions.includes('delete'))
    ? ':warning:'
    : ':memo:';
  return `## ${icon} lvchain plan for ${where}: ${planCounts(s)}${driftNote}`;
}

function resultLine(plan: Plan): string {
  if (plan.errored) return '**The plan has errors, so it cannot be applied.** The errors are listed below.';
  if (plan.resource_changes.length === 0) return '**No changes.** Your storage matches the configuration.';
  return `**${planSummaryLine(plan.summary)}**`;
}

function metaLine(plan: Plan, runUrl: string | undefined): string {
  const parts = [
    `lvchain ${plan.lvchain_version}`,
    `evaluated at ${plan.timestamp}`,
    `plan ${plan.plan_id}`,
    ...(plan.options.targets.length > 0 ? [`targets: ${plan.options.targets.join(', ')}`] : []),
  ];
  const link = runUrl !== undefined ? ` · [CI run](${encodeURI(runUrl)})` : '';
  return `<sub>${mdText(parts.join(' · '))}${link}</sub>`;
}

/** "the diff of 1,723 of 2,000 changes", "12 of 60 deletions from the deletion warning". */
function cutPhrase(c: Cut): string {
  const hidden = c.total - c.shown;
  const of =
    hidden === c.total
      ? `all ${plural(c.total, c.unit)}`
      : `${hidden.toLocaleString('en-US')} of ${plural(c.total, c.unit)}`;
  return c.what === '' ? `${of}${c.where}` : `the ${c.what} of ${of}`;
}

function cutNote(cuts: readonly Cut[], limit: number, runUrl: string | undefined): string {
  const what = cuts.map(cutPhrase);
  const where = runUrl ? `the [CI job log](${runUrl})` : 'the CI job log';
  return [
    `> [!NOTE]`,
    `> **This comment is cut to fit ${limit.toLocaleString('en-US')} characters.** Not shown: ${mdText(what.join('; '))}. The full plan is in ${where} and in the saved plan file.`,
  ].join('\n');
}

/** Last resort when even the fixed parts do not fit: cut at a line and close what is open. */
function hardCut(doc: string, limit: number): string {
  const tail = '\n\n_… cut here to fit the size limit._';
  let text = doc.slice(0, Math.max(0, limit - tail.length - 40));
  text = text.slice(0, Math.max(0, text.lastIndexOf('\n')));
  const fences = text.match(/^`{3,}/gm)?.length ?? 0;
  if (fences % 2 === 1) text += '\n```';
  const open = (text.match(/<details/g)?.length ?? 0) - (text.match(/<\/details>/g)?.length ?? 0);
  text += '\n\n</details>'.repeat(Math.max(0, open));
  return text + tail;
}

export function renderPlanMarkdown(plan: Plan, opts: MarkdownOptions): string {
  const limit = opts.maxChars ?? MARKDOWN_LIMIT;
  const cuts: Cut[] = [];
  const dels = deletionItems(plan);
  const fixed = [
    dels.items.length > 0
      ? cappedList(
          deletionHeading(dels.items.length, dels.irreversible),
          dels.items,
          Math.floor(limit * 0.3),
          { one: 'deletion', where: ' from the deletion warning (irreversible ones are listed first)' },
          cuts,
        )
      : '',
    summaryTable(plan),
    cappedList(
      '#### Diagnostics',
      diagnosticItems(plan),
      Math.floor(limit * 0.1),
      { one: 'diagnostic', where: '' },
      cuts,
    ),
    cappedList(
      '#### :information_source: Objects have changed outside of lvchain',
      driftItems(plan),
      Math.floor(limit * 0.1),
      { one: 'drifted disk', where: '' },
      cuts,
    ),
  ].filter((s) => s !== '');
  const head = [
    commentMarker(opts.target),
    title(plan, opts.target),
    resultLine(plan),
    metaLine(plan, opts.runUrl),
  ];
  const fixedCuts = cuts.length;
  const all = blocks(plan);
  // The note's length depends on what is cut; reserve room, and shrink the budget if it is short.
  let reserve = 600;
  for (;;) {
    cuts.length = fixedCuts;
    const base = [...head, ...fixed].join('\n\n').length;
    const packed = packBlocks(all, limit - base - reserve, cuts);
    const note = cuts.length > 0 ? [cutNote(cuts, limit, opts.runUrl)] : [];
    const doc = [...head, ...note, ...fixed, ...packed].join('\n\n') + '\n';
    if (doc.length <= limit) return doc;
    if (packed.length === 0 || reserve > limit) return hardCut(doc, limit);
    reserve += doc.length - limit + 200;
  }
}
