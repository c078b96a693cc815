/** Structural checks every rendered comment must pass, whatever its size. */
import { expect } from 'vitest';

export function expectWellFormed(md: string, limit: number): void {
  expect(md.length).toBeLessThanOrEqual(limit);
  expect(md.split('\n', 1)[0]).toMatch(/^<!-- lvchain-plan-comment: .+ -->$/);
  const fences = md.match(/^`{3,}/gm) ?? [];
  expect(fences.length % 2, 'code fences are closed').toBe(0);
  const open = md.match(/<details>/g)?.length ?? 0;
  const close = md.match(/<\/details>/g)?.length ?? 0;
  expect(close, '<details> blocks are closed').toBe(open);
}

/** The text of the collapsible block whose summary starts with `title`, or undefined. */
export function detailsBlock(md: string, title: string): string | undefined {
  const start = md.indexOf(`<details><summary>${title}`);
  if (start < 0) return undefined;
  return md.slice(start, md.indexOf('</details>', start));
}

/** The deletion warning section: from its heading to the next blank line after the list. */
export function warningSection(md: string): string | undefined {
  const start = md.indexOf('### :warning: This plan deletes');
  if (start < 0) return undefined;
  const listEnd = md.indexOf('\n\n', md.indexOf('\n- ', start) + 1);
  return md.slice(start, listEnd < 0 ? undefined : listEnd);
}
