/**
 * Loading: YAML with source positions → schema (zod) → normalised Desired → rules.
 * Every problem is reported as file:line:col plus the config path, and loading never
 * touches a host.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { Lexer } from 'yaml';
import { ConfigError, LvchainError } from '../base/errors.js';
import type { ConfigIssue } from '../base/errors.js';
import type { Desired } from '../model/desired.js';
import { configSchema } from './schema.js';
import { normalize } from './normalize.js';
import { Locator } from './locator.js';
import { syntaxIssues } from './yaml-syntax.js';
import { atFirstAlias, structureIssues } from './yaml-structure.js';
import { schemaIssues } from './schema-issues.js';
import { MAX_NESTING } from './yaml-limits.js';

export interface LoadedConfig {
  desired: Desired;
  /** sha256 of the file's bytes, recorded in plans. */
  digest: string;
  warnings: ConfigIssue[];
  /** Locate an issue found later (validate's checks against hosts) at its config path. */
  locate(path: (string | number)[], message: string): ConfigIssue;
}

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
  if (doc.errors.length > 0) throw new ConfigError(syntaxIssues(locator, doc.errors), 'config_syntax');
  const structural = structureIssues(locator);
  if (structural.length > 0) throw new ConfigError(structural, 'config_syntax');
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    // The structure checks above should have caught this; keep a located error regardless.
    throw new ConfigError(
      [atFirstAlias(locator, e instanceof Error ? e.message : String(e))],
      'config_syntax',
    );
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      { location: locator.at(0), path: '', message: 'the file is empty; it needs at least "version: 1"' },
    ]);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(inFileOrder(schemaIssues(locator, parsed.error.issues)));
  const { desired, issues, warnings } = normalize(parsed.data, path);
  if (issues.length > 0) {
    throw new ConfigError(inFileOrder(issues.map((i) => locator.located(i.path, i.message, i.key))));
  }
  return {
    desired,
    digest: createHash('sha256').update(text).digest('hex'),
    warnings: warnings.map((w) => locator.located(w.path, w.message, w.key)),
    locate: (at, message) => locator.located(at, message),
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
