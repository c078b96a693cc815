/**
 * Small GitHub-flavoured Markdown helpers: escaping, code spans, fences, collapsible blocks.
 * Names from the storage go through them into PR comments: they must not ping anyone, open
 * HTML, end a code span or a table cell, or start a line of their own.
 */
import { termLines, termText } from './escape.js';

/** A word joiner after `@`: the text reads the same, and GitHub sees no mention in it. */
const NO_MENTION = '@\u2060';

/** Text that Markdown shows as written: punctuation that starts markup is backslash-escaped. */
export function mdText(s: string): string {
  return termText(
    s
      .replace(/[\\`*_[\]|<>&#~]/g, '\\$&')
      .replace(/\r?\n/g, ' ')
      .replace(/@/g, NO_MENTION),
  );
}

/** An inline code span that survives backticks in its content. */
export function mdCode(raw: string): string {
  // Mentions and HTML are inert inside a code span; line breaks and controls are not.
  const s = termText(raw.replace(/\r?\n/g, ' '));
  const runs = s.match(/`+/g) ?? [];
  const ticks = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s}${pad}${ticks}`;
}

/** A fence longer than any backtick run in the body, so the body cannot close it. */
export function fence(lang: string, text: string): string {
  const body = termLines(text).join('\n');
  const runs = body.match(/`{3,}/g) ?? [];
  const ticks = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  return `${ticks}${lang}\n${body}\n${ticks}`;
}

/** A collapsed block; GitHub needs the blank line after the summary for Markdown inside. */
export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${mdText(summary)}</summary>\n\n${body}\n\n</details>`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * A row of a GFM table. Cells are already formatted Markdown; a `|` that is not escaped yet
 * (in a code span) would end the cell, and GFM reads `\|` as `|` even inside code in a table.
 */
export function row(cells: readonly string[]): string {
  return `| ${cells.map((c) => c.replace(/(?<!\\)\|/g, '\\|')).join(' | ')} |`;
}
