/**
 * Loading: YAML with source positions → schema (zod) → normalised Desired → rules.
 * Every problem is reported as file:line:col plus the config path, and loading never
 * touches a host.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Document, Node as YamlNode, YAMLError } from 'yaml';
import {
  Lexer,
  LineCounter,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  visit,
} from 'yaml';
import { z } from 'zod';
import { ConfigError, LvchainError } from '../base/errors.js';
import type { ConfigIssue } from '../base/errors.js';
import type { Desired } from '../model/desired.js';
import { configSchema, describeValue } from './schema.js';
import { normalize } from './normalize.js';
import { closest } from '../base/names.js';

export interface LoadedConfig {
  desired: Desired;
  /** sha256 of the file's bytes, recorded in plans. */
  digest: string;
  warnings: ConfigIssue[];
}

/** Maps and lists nest at most this deep; a valid config needs 6 levels. */
export const MAX_NESTING = 32;

/** Aliases may expand the document to at most this many values (an "alias bomb" guard). */
export const MAX_EXPANDED_VALUES = 100_000;

export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LvchainError(
      'config_not_found',
      `cannot read config ${file}: ${code === 'ENOENT' ? 'no such file' : String(e)}`,
      {
        hints:
          code === 'ENOENT'
            ? ['Pass the file with -c/--config, or run lvchain in the directory that holds lvchain.yaml.']
            : [],
      },
    );
  }
  return loadConfigText(text, path);
}

export function loadConfigText(text: string, path: string): LoadedConfig {
  const deep = tooDeepFlow(text);
  if (deep !== undefined) {
    const before = text.slice(0, deep).split('\n');
    throw new ConfigError(
      [
        {
          location: {
            file: path,
            line: before.length,
            col: (before[before.length - 1] as string).length + 1,
          },
          path: '',
          message: `lists or maps are nested more than ${MAX_NESTING} levels deep here; an lvchain config needs 6`,
        },
      ],
      'config_syntax',
    );
  }
  const locator = new Locator(text, path);
  const doc = locator.doc;
  if (doc.errors.length > 0) throw new ConfigError(locator.syntaxIssues(doc.errors), 'config_syntax');
  const structural = locator.structureIssues();
  if (structural.length > 0) throw new ConfigError(structural, 'config_syntax');
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    // The structure checks above should have caught this; keep a located error regardless.
    throw new ConfigError(
      [locator.atFirstAlias(e instanceof Error ? e.message : String(e))],
      'config_syntax',
    );
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      { location: locator.at(0), path: '', message: 'the file is empty; it needs at least "version: 1"' },
    ]);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(inFileOrder(locator.schemaIssues(parsed.error.issues)));
  const { desired, issues, warnings } = normalize(parsed.data, path);
  if (issues.length > 0) {
    throw new ConfigError(inFileOrder(issues.map((i) => locator.located(i.path, i.message, i.key))));
  }
  return {
    desired,
    digest: createHash('sha256').update(text).digest('hex'),
    warnings: warnings.map((w) => locator.located(w.path, w.message, w.key)),
  };
}

/**
 * Where `[` and `{` first nest deeper than MAX_NESTING. The parser recurses per level and
 * gives up somewhere past a thousand with a stack overflow, at an offset that depends on
 * the stack size; the lexer does not recurse, so this finds the same place every time.
 */
function tooDeepFlow(text: string): number | undefined {
  let offset = 0;
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    // The lexer marks documents and scalars with control characters that are not in the source.
    if (token.length === 1 && token < ' ' && token !== '\n' && token !== '\t') continue;
    if (token === '[' || token === '{') {
      depth++;
      if (depth > MAX_NESTING) return offset;
    } else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
    offset += token.length;
  }
  return undefined;
}

/** Issues sorted by where they are in the file, as a reader goes through it. */
function inFileOrder(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.location.line - b.location.line || a.location.col - b.location.col);
}

/** An issue found after parsing: a path into the document, optionally naming a map key. */
export interface PathIssue {
  path: (string | number)[];
  message: string;
  /** Point at this key of the map at `path` rather than at its value. */
  key?: string;
}

type Segment = string | number;

class Locator {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();
  private readonly file: string;
  private readonly text: string;

  constructor(text: string, file: string) {
    this.file = file;
    this.text = text;
    this.doc = parseDocument(text, {
      lineCounter: this.lines,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
    });
  }

  at(offset: number) {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  private offsetOf(node: YamlNode | undefined): number {
    return node?.range?.[0] ?? 0;
  }

  // ── YAML syntax ────────────────────────────────────────────────────────────────────

  /** The parser's errors, reworded where its words are about YAML internals. */
  syntaxIssues(errors: readonly YAMLError[]): ConfigIssue[] {
    const out: ConfigIssue[] = [];
    const seenLines = new Set<number>();
    const multiline = new Set(errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
    for (const e of errors) {
      // One mis-indented line yields two errors at the same offset; keep the clearer one.
      if (e.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(e.pos[0])) continue;
      const issue = this.syntaxIssue(e);
      if (seenLines.has(issue.location.line)) continue;
      seenLines.add(issue.location.line);
      out.push(issue);
    }
    return out;
  }

  private syntaxIssue(e: YAMLError): ConfigIssue {
    const first = e.message.split('\n')[0] ?? e.message;
    const plain = (offset: number, message: string, path = ''): ConfigIssue => ({
      location: this.at(offset),
      path,
      message,
    });
    switch (e.code) {
      case 'DUPLICATE_KEY': {
        const dup = this.duplicateKey(e.pos[0]);
        if (!dup) return plain(e.pos[0], 'duplicate key: each key may appear only once in a map');
        return plain(
          e.pos[0],
          `duplicate key "${dup.key}" (first on line ${this.at(dup.firstOffset).line}); each key may appear only once in a map`,
          formatPath([...dup.path, dup.key]),
        );
      }
      case 'MISSING_CHAR': {
        const quote = /closing (["'])quote/.exec(first)?.[1];
        if (quote !== undefined) {
          const start = this.unclosedQuote(e.pos[0], quote);
          return plain(
            start ?? e.pos[0],
            `this quoted string is never closed: add the closing ${quote} (it runs to line ${this.at(e.pos[0]).line})`,
          );
        }
        return plain(e.pos[0], first);
      }
      case 'TAB_AS_INDENT':
        return plain(e.pos[0], 'a tab is used for indentation; YAML indents with spaces only');
      case 'MULTILINE_IMPLICIT_KEY': {
        const next = this.nextLineStart(e.pos[0], e.pos[1]);
        if (next === undefined) return plain(e.pos[0], 'a key must be on a single line (is a ":" missing?)');
        return plain(
          next,
          `bad indentation: this line is indented deeper than the key on line ${this.at(e.pos[0]).line}, so YAML reads it as part of that value; align it with the keys above or nest it under a key ending in ":"`,
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
  private duplicateKey(offset: number): { key: string; firstOffset: number; path: Segment[] } | undefined {
    let found: { key: string; firstOffset: number; path: Segment[] } | undefined;
    visit(this.doc, {
      Map: (_k, map, ancestors) => {
        const seen = new Map<string, number>();
        for (const item of map.items) {
          if (!isScalar(item.key)) continue;
          const key = String(item.key.value);
          const start = this.offsetOf(item.key);
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
  private unclosedQuote(end: number, quote: string): number | undefined {
    let start: number | undefined;
    visit(this.doc, {
      Scalar: (_k, s) => {
        const [from, to] = s.range ?? [0, 0];
        if (this.text[from] === quote && from < end && to >= end - 1) start = from;
      },
    });
    return start;
  }

  /** The first non-blank character on the line after `from`, if it is before `to`. */
  private nextLineStart(from: number, to: number): number | undefined {
    const nl = this.text.indexOf('\n', from);
    if (nl < 0 || nl >= to) return undefined;
    let i = nl + 1;
    while (i < to && (this.text[i] === ' ' || this.text[i] === '\t')) i++;
    return i;
  }

  // ── Structure the schema cannot see: complex keys and aliases ─────────────────────

  structureIssues(): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    visit(this.doc, {
      Pair: (_k, pair, ancestors) => {
        if (isScalar(pair.key) && String(pair.key.value) === '__proto__') {
          // JavaScript objects cannot hold this key as data; it would vanish silently.
          issues.push({
            location: this.at(this.offsetOf(pair.key)),
            path: formatPath(pathOf(ancestors)),
            message: '"__proto__" cannot be a name or key; no lvchain name may start with "_"',
          });
          return visit.SKIP;
        }
        if (pair.key !== null && !isScalar(pair.key)) {
          issues.push({
            location: this.at(this.offsetOf(pair.key as YamlNode)),
            path: formatPath(pathOf(ancestors)),
            message: 'map keys must be plain names, not lists or maps',
          });
          return visit.SKIP;
        }
        return undefined;
      },
      Node: (_k, node, ancestors) => {
        if (!isCollection(node) || ancestors.filter(isCollection).length < MAX_NESTING) return undefined;
        issues.push({
          location: this.at(this.offsetOf(node)),
          path: formatPath(pathOf(ancestors)),
          message: `lists or maps are nested more than ${MAX_NESTING} levels deep here; an lvchain config needs 6`,
        });
        return visit.BREAK;
      },
      Alias: (_k, alias, ancestors) => {
        const target = alias.resolve(this.doc);
        if (!target) {
          issues.push({
            location: this.at(this.offsetOf(alias)),
            path: formatPath(pathOf([...ancestors, alias])),
            message: `unknown alias *${alias.source}: define the anchor &${alias.source} before using it`,
          });
        } else if (ancestors.includes(target)) {
          issues.push({
            location: this.at(this.offsetOf(alias)),
            path: formatPath(pathOf([...ancestors, alias])),
            message: `the alias *${alias.source} refers to a collection that contains it`,
          });
        }
      },
    });
    if (issues.length > 0) return issues;
    const bomb = this.aliasExpansion();
    return bomb ? [bomb] : [];
  }

  /** The alias at which expanding aliases makes the document larger than the limit. */
  private aliasExpansion(): ConfigIssue | undefined {
    const memo = new Map<unknown, number>();
    const size = (node: unknown): number => {
      const known = memo.get(node);
      if (known !== undefined) return known;
      let n = 1;
      if (isAlias(node)) n = size(node.resolve(this.doc));
      else if (isPair(node)) n = size(node.key) + size(node.value);
      else if (isCollection(node)) for (const item of node.items) n = Math.min(n + size(item), 2 ** 52);
      memo.set(node, n);
      return n;
    };
    let total = 0;
    let found: ConfigIssue | undefined;
    visit(this.doc, {
      Node: (_k, node, ancestors) => {
        total += isAlias(node) ? size(node) : 1;
        if (total > MAX_EXPANDED_VALUES && isAlias(node)) {
          found = {
            location: this.at(this.offsetOf(node)),
            path: formatPath(pathOf([...ancestors, node])),
            message: `the alias *${node.source} expands to ${size(node)} values, which takes the file past ${MAX_EXPANDED_VALUES}; lvchain refuses such "alias bombs"`,
          };
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return found;
  }

  atFirstAlias(message: string): ConfigIssue {
    let offset = 0;
    visit(this.doc, {
      Alias: (_k, alias) => {
        offset = this.offsetOf(alias);
        return visit.BREAK;
      },
    });
    return { location: this.at(offset), path: '', message: `cannot expand the YAML aliases: ${message}` };
  }

  // ── Finding nodes by config path ───────────────────────────────────────────────────

  /** The pair of `key` in the map at `path`, following aliases on the way. */
  private pairAt(path: Segment[], key: Segment) {
    const parent = this.follow(path.length === 0 ? this.doc.contents : this.nodeAt(path));
    if (!isMap(parent)) return undefined;
    return parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
  }

  private follow(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private nodeAt(path: Segment[]): YamlNode | undefined {
    let node: unknown = this.doc.contents;
    for (const seg of path) {
      const here = this.follow(node);
      if (isMap(here)) {
        node = here.items.find((item) => isScalar(item.key) && String(item.key.value) === String(seg))?.value;
      } else if (isSeq(here) && typeof seg === 'number') {
        node = here.items[seg];
      } else return undefined;
      if (node === undefined || node === null) return undefined;
    }
    return node as YamlNode;
  }

  /** The key node of `key` in the map at `path`. */
  private keyNode(path: Segment[], key: Segment): YamlNode | undefined {
    const pair = this.pairAt(path, key);
    return pair && isScalar(pair.key) ? pair.key : undefined;
  }

  /** The deepest existing node along the path, for values that are missing. */
  private nearest(path: Segment[]): YamlNode | undefined {
    for (let n = path.length; n > 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (node) return node;
    }
    return (this.doc.contents as YamlNode | null) ?? undefined;
  }

  /** `key:` with nothing after it. */
  private isImplicitNull(node: YamlNode | undefined): boolean {
    return isScalar(node) && node.value === null && (node.range?.[0] ?? 0) === (node.range?.[1] ?? 0);
  }

  /**
   * Where an issue at `path` points: a scalar value itself; for a map or list (or a key
   * with no value), the key that names it, which is where the reader looks.
   */
  private pointAt(path: Segment[]): YamlNode | undefined {
    const value = this.nodeAt(path);
    if (value && (isScalar(value) || isAlias(value)) && !this.isImplicitNull(value)) return value;
    const last = path[path.length - 1];
    const key = last !== undefined ? this.keyNode(path.slice(0, -1), last) : undefined;
    return key ?? value ?? this.nearest(path);
  }

  located(path: Segment[], message: string, key?: string): ConfigIssue {
    const node = key !== undefined ? (this.keyNode(path, key) ?? this.nearest(path)) : this.pointAt(path);
    const fullPath = key !== undefined ? [...path, key] : path;
    return { location: this.at(this.offsetOf(node)), path: formatPath(fullPath), message };
  }

  // ── Schema issues ──────────────────────────────────────────────────────────────────

  /**
   * All schema issues, located. A missing key is not reported when a misspelt key next to
   * it already says "did you mean" that key (`sise:` for `size:`).
   */
  schemaIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
    const meant = new Set<string>();
    for (const i of issues) {
      if (i.code !== 'unrecognized_keys') continue;
      const path = segments(i.path);
      const allowed = objectKeys(path)?.keys ?? [];
      for (const k of i.keys) {
        const best = closest(k, allowed);
        if (best !== undefined) meant.add(JSON.stringify([...path, best]));
      }
    }
    const missingButMeant = (i: z.core.$ZodIssue) => {
      const path = segments(i.path);
      const last = path[path.length - 1];
      return (
        last !== undefined &&
        meant.has(JSON.stringify(path)) &&
        this.pairAt(path.slice(0, -1), last) === undefined
      );
    };
    return issues.filter((i) => !missingButMeant(i)).flatMap((i) => this.issue(i));
  }

  /** Point value errors at the value, key errors at the key, missing keys at the map. */
  issue(i: z.core.$ZodIssue, prefix: Segment[] = []): ConfigIssue[] {
    const path: Segment[] = [...prefix, ...segments(i.path)];
    switch (i.code) {
      case 'unrecognized_keys':
        return i.keys.map((k) => this.located(path, `unknown key "${k}"${suggestKey(k, path)}`, k));
      case 'invalid_key': {
        const key = String(path[path.length - 1]);
        const inner = i.issues[0]?.message ?? i.message;
        return [this.located(path.slice(0, -1), `"${key}": ${inner}`, key)];
      }
      case 'invalid_union': {
        // The branch the value's type chose (e.g. the map form of ssh) has the specific issues.
        const chosen = i.errors.filter(
          (branch) => !branch.every((b) => b.code === 'invalid_type' && b.path.length === 0),
        );
        if (chosen.length === 1) return (chosen[0] as z.core.$ZodIssue[]).flatMap((b) => this.issue(b, path));
        break;
      }
    }
    const last = path[path.length - 1];
    const parentPath = path.slice(0, -1);
    const parent = this.follow(parentPath.length === 0 ? this.doc.contents : this.nodeAt(parentPath));
    if (last !== undefined && isMap(parent) && !this.pairAt(parentPath, last)) {
      // A required key that is not there: point at the map that needs it.
      const where = parentPath.length === 0 ? this.doc.contents : this.nodeAt(parentPath);
      return [
        {
          location: this.at(this.offsetOf((where as YamlNode | null) ?? undefined)),
          path: formatPath(path),
          message:
            path.length === 1 && last === 'version'
              ? '"version" is required; start the file with "version: 1"'
              : `"${String(last)}" is required`,
        },
      ];
    }
    const value = this.nodeAt(path);
    const target = this.pointAt(path);
    let message = i.message;
    if (i.code === 'invalid_type' && (i.expected === 'object' || i.expected === 'record')) {
      const input = value === undefined ? undefined : this.follow(value);
      const empty = input === undefined || (isScalar(input) && input.value === null);
      message = empty
        ? `is empty; ${mapNeeds(path, i.expected)}`
        : `must be a map${mapContents(path, i.expected)}, not ${isSeq(input) ? 'a list' : describeValue(isScalar(input) ? input.value : undefined)}`;
    } else if (this.isImplicitNull(value)) {
      message = `has no value; ${i.message}`;
    } else if (/^Invalid input: expected (\w+), received (\w+)$/.test(message)) {
      const [, expected] = /^Invalid input: expected (\w+)/.exec(message) ?? [];
      message = `must be ${expected === 'array' ? 'a list' : `a ${expected ?? 'different value'}`}, not ${describeValue(isScalar(value) ? value.value : isSeq(value) ? [] : value ? {} : undefined)}`;
    }
    return [{ location: this.at(this.offsetOf(target)), path: formatPath(path), message }];
  }
}

function segments(path: readonly PropertyKey[]): Segment[] {
  return path.map((p) => (typeof p === 'symbol' ? String(p) : p));
}

/** The names of the map and sequence entries from the document root down to `ancestors`' end. */
function pathOf(ancestors: readonly unknown[]): Segment[] {
  const out: Segment[] = [];
  for (let n = 0; n < ancestors.length; n++) {
    const a = ancestors[n];
    const next = ancestors[n + 1];
    if (isPair(a) && isScalar(a.key)) out.push(String(a.key.value));
    else if (isSeq(a) && next !== undefined) out.push(a.items.indexOf(next as never));
  }
  return out;
}

// ── What the schema expects at a path (for "did you mean" and "is required") ─────────

function schemaAt(path: readonly Segment[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = configSchema;
  for (const seg of path) {
    s = s && childSchema(s, seg);
    if (!s) return undefined;
  }
  return s;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType;
  return cur;
}

function childSchema(s: z.ZodType, seg: Segment): z.ZodType | undefined {
  const u = unwrap(s);
  if (u instanceof z.ZodObject) return (u.shape as Record<string, z.ZodType>)[String(seg)];
  if (u instanceof z.ZodRecord) return u.valueType as z.ZodType;
  if (u instanceof z.ZodArray) return u.element as z.ZodType;
  if (u instanceof z.ZodUnion) {
    for (const option of u.options as z.ZodType[]) {
      const c = childSchema(option, seg);
      if (c) return c;
    }
  }
  return undefined;
}

/** The keys of the object at `path` (the map form, for unions), and which are required. */
function objectKeys(path: readonly Segment[]): { keys: string[]; required: string[] } | undefined {
  const s = schemaAt(path);
  const u = s && unwrap(s);
  const candidates = u instanceof z.ZodUnion ? (u.options as z.ZodType[]).map(unwrap) : u ? [u] : [];
  const obj = candidates.find((c) => c instanceof z.ZodObject);
  if (!(obj instanceof z.ZodObject)) return undefined;
  const shape = obj.shape as Record<string, z.ZodType>;
  const keys = Object.keys(shape);
  return { keys, required: keys.filter((k) => !(shape[k] as z.ZodType).safeParse(undefined).success) };
}

function quoteList(keys: readonly string[]): string {
  return keys.map((k) => `"${k}"`).join(', ');
}

/** "did you mean" for near-miss keys, from the keys allowed at that place. */
function suggestKey(key: string, path: readonly Segment[]): string {
  if (key === '<<') return '; YAML merge keys ("<<") are not supported: write the keys out';
  const allowed = objectKeys(path)?.keys ?? [];
  const best = closest(key, allowed);
  if (best !== undefined) return `; did you mean "${best}"?`;
  return allowed.length > 0 ? `; expected one of ${quoteList(allowed)}` : '';
}

function mapNeeds(path: readonly Segment[], expected: string): string {
  if (expected === 'record') return 'add entries under it, or leave the key out';
  const keys = objectKeys(path);
  if (keys && keys.required.length > 0) return `it needs ${quoteList(keys.required)}`;
  return keys ? `expected a map with ${quoteList(keys.keys)}` : 'expected a map';
}

function mapContents(path: readonly Segment[], expected: string): string {
  if (expected === 'record') return ' of names to settings';
  const keys = objectKeys(path);
  return keys ? ` with keys such as ${quoteList(keys.keys.slice(0, 4))}` : '';
}

/**
 * A dotted config path: `guests.web-401.disks.vm-401-disk-0.size`. Segments that are not
 * plain names are quoted (`disks["a b"]`) and list indexes are bracketed (`pvs[1]`).
 */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
