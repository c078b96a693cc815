/** Small GitHub-flavoured Markdown helpers: escaping, code spans, fences, collapsible blocks. */

/** Text that Markdown shows as written: punctuation that starts markup is backslash-escaped. */
export function mdText(s: string): string {
  return s.replace(/[\\`*_[\]|<>&#~]/g, '\\$&').replace(/\r?\n/g, ' ');
}

/** An inline code span that survives backticks in its content. */
export function mdCode(s: string): string {
  const runs = s.match(/`+/g) ?? [];
  const ticks = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s.replace(/\r?\n/g, ' ')}${pad}${ticks}`;
}

/** A fence longer than any backtick run in the body, so the body cannot close it. */
export function fence(lang: string, body: string): string {
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

/** A row of a GFM table. Cells are already formatted Markdown. */
export function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}
