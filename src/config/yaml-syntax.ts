/** YAML syntax errors as config issues, each on the line a reader has to fix. */
import type { YAMLError } from 'yaml';
import { isScalar, visit } from 'yaml';
import type { ConfigIssue } from '../base/errors.js';
import type { Locator } from './locator.js';
import type { Segment } from './path.js';
import { formatPath, pathOf } from './path.js';
import { MAX_NESTING } from './yaml-limits.js';

/** The parser's errors, reworded where its words are about YAML internals. */
export function syntaxIssues(loc: Locator, errors: readonly YAMLError[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seenLines = new Set<number>();
  const multiline = new Set(errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  for (const e of errors) {
    // One mis-indented line yields two errors at the same offset; keep the clearer one.
    if (e.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(e.pos[0])) continue;
    const issue = syntaxIssue(loc, e);
    if (seenLines.has(issue.location.line)) continue;
    seenLines.add(issue.location.line);
    out.push(issue);
  }
  return out;
}

function syntaxIssue(loc: Locator, e: YAMLError): ConfigIssue {
  const first = e.message.split('\n')[0] ?? e.message;
  const plain = (offset: number, message: string, path = ''): ConfigIssue => ({
    location: loc.at(offset),
    path,
    message,
  });
  switch (e.code) {
    case 'DUPLICATE_KEY': {
      const dup = duplicateKey(loc, e.pos[0]);
      if (!dup) return plain(e.pos[0], 'duplicate key: each key may appear only once in a map');
      return plain(
        e.pos[0],
        `duplicate key "${dup.key}" (first on line ${loc.at(dup.firstOffset).line}); each key may appear only once in a map`,
        formatPath([...dup.path, dup.key]),
      );
    }
    case 'MISSING_CHAR': {
      const quote = /closing (["'])quote/.exec(first)?.[1];
      if (quote !== undefined) {
        const start = unclosedQuote(loc, e.pos[0], quote);
        return plain(
          start ?? e.pos[0],
          `this quoted string is never closed: add the closing ${quote} (it runs to line ${loc.at(e.pos[0]).line})`,
        );
      }
      return plain(e.pos[0], first);
    }
    case 'TAB_AS_INDENT':
      return plain(e.pos[0], 'a tab is used for indentation; YAML indents with spaces only');
    case 'MULTILINE_IMPLICIT_KEY': {
      const next = nextLineStart(loc, e.pos[0], e.pos[1]);
      if (next === undefined) return plain(e.pos[0], 'a key must be on a single line (is a ":" missing?)');
      return plain(
        next,
        `bad indentation: this line is indented deeper than the key on line ${loc.at(e.pos[0]).line}, so YAML reads it as part of that value; align it with the keys above or nest it under a key ending in ":"`,
      );
    }
    case 'BLOCK_AS_IMPLICIT_KEY':
      return plain(
        e.pos[0],
        first.startsWith('Nested mappings')
          ? 'a plain value cannot contain ": "; quote the value, or start the nested map on a new, indented line'
          : `bad indentation: ${lowerFirst(first)}`,
      );
    case 'BAD_INDENT':
      return plain(e.pos[0], `bad indentation: ${lowerFirst(first)}`);
    case 'MULTIPLE_DOCS':
      return plain(
        e.pos[0],
        'the file holds more than one YAML document (a second "---"); lvchain reads a single document',
      );
    default:
      // The parser gives up with the engine's own words when collections nest thousands deep.
      if (/call stack/i.test(first)) {
        return plain(
          e.pos[0],
          `lists or maps are nested too deeply here to read; lvchain accepts at most ${MAX_NESTING} levels`,
        );
      }
      return plain(e.pos[0], first);
  }
}

/** The duplicated key at `offset`, where its first occurrence is, and the map's path. */
function duplicateKey(
  loc: Locator,
  offset: number,
): { key: string; firstOffset: number; path: Segment[] } | undefined {
  let found: { key: string; firstOffset: number; path: Segment[] } | undefined;
  visit(loc.doc, {
    Map: (_k, map, ancestors) => {
      const seen = new Map<string, number>();
      for (const item of map.items) {
        if (!isScalar(item.key)) continue;
        const key = String(item.key.value);
        const start = loc.offsetOf(item.key);
        const first = seen.get(key);
        if (first !== undefined && start === offset) {
          found = { key, firstOffset: first, path: pathOf([...ancestors, map]) };
          return visit.BREAK;
        }
        if (first === undefined) seen.set(key, start);
      }
      return undefined;
    },
  });
  return found;
}

/** Where the quoted scalar that runs to `end` opens. */
function unclosedQuote(loc: Locator, end: number, quote: string): number | undefined {
  let start: number | undefined;
  visit(loc.doc, {
    Scalar: (_k, s) => {
      const [from, to] = s.range ?? [0, 0];
      if (loc.text[from] === quote && from < end && to >= end - 1) start = from;
    },
  });
  return start;
}

/** The first non-blank character on the line after `from`, if it is before `to`. */
function nextLineStart(loc: Locator, from: number, to: number): number | undefined {
  const nl = loc.text.indexOf('\n', from);
  if (nl < 0 || nl >= to) return undefined;
  let i = nl + 1;
  while (i < to && (loc.text[i] === ' ' || loc.text[i] === '\t')) i++;
  return i;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
