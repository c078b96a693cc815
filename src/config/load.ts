/**
 * Loading: YAML with source positions → schema (zod) → normalised Desired → rules.
 * Every problem is reported as file:line:col plus the config path, and loading never
 * touches a host.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Document, Node as YamlNode } from 'yaml';
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml';
import type { core } from 'zod';
import { ConfigError, LvchainError } from '../errors.js';
import type { ConfigIssue } from '../errors.js';
import type { Desired } from '../model/desired.js';
import { configSchema } from './schema.js';
import { normalize } from './normalize.js';

export interface LoadedConfig {
  desired: Desired;
  /** sha256 of the file's bytes, recorded in plans. */
  digest: string;
  warnings: ConfigIssue[];
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
  const locator = new Locator(text, path);
  const doc = locator.doc;
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        location: locator.at(e.pos[0]),
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
      'config_syntax',
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 50 });
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      { location: locator.at(0), path: '', message: 'the file is empty; it needs at least "version: 1"' },
    ]);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.flatMap((i) => locator.issue(i)));
  const { desired, issues, warnings } = normalize(parsed.data, path);
  if (issues.length > 0) throw new ConfigError(issues.map((i) => locator.located(i.path, i.message, i.key)));
  return {
    desired,
    digest: createHash('sha256').update(text).digest('hex'),
    warnings: warnings.map((w) => locator.located(w.path, w.message, w.key)),
  };
}

/** An issue found after parsing: a path into the document, optionally naming a map key. */
export interface PathIssue {
  path: (string | number)[];
  message: string;
  /** Point at this key of the map at `path` rather than at its value. */
  key?: string;
}

class Locator {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();
  private readonly file: string;

  constructor(text: string, file: string) {
    this.file = file;
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

  private nodeAt(path: (string | number)[]): YamlNode | undefined {
    const node = this.doc.getIn(path, true);
    return node && typeof node === 'object' && 'range' in (node as object) ? (node as YamlNode) : undefined;
  }

  /** The key node of `key` in the map at `path`. */
  private keyNode(path: (string | number)[], key: string): YamlNode | undefined {
    const parent = path.length === 0 ? this.doc.contents : this.nodeAt(path);
    if (!isMap(parent)) return undefined;
    for (const item of parent.items) {
      if (isPair(item) && isScalar(item.key) && String(item.key.value) === key) return item.key;
    }
    return undefined;
  }

  /** The deepest existing node along the path, for values that are missing. */
  private nearest(path: (string | number)[]): YamlNode | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? (this.doc.contents ?? undefined) : this.nodeAt(path.slice(0, n));
      if (node) return node as YamlNode;
    }
    return undefined;
  }

  located(path: (string | number)[], message: string, key?: string): ConfigIssue {
    const node =
      key !== undefined
        ? this.keyNode(path, key)
        : path.length > 0
          ? (this.keyNode(path.slice(0, -1), String(path[path.length - 1])) ?? this.nodeAt(path))
          : undefined;
    const target = node ?? this.nearest(path);
    const offset = target?.range?.[0] ?? 0;
    const fullPath = key !== undefined ? [...path, key] : path;
    return { location: this.at(offset), path: formatPath(fullPath), message };
  }

  /** Point value errors at the value, and key errors at the key. */
  issue(i: core.$ZodIssue): ConfigIssue[] {
    const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => this.located(path, `unknown key "${k}"${suggest(k, path)}`, k));
    }
    if (i.code === 'invalid_key') {
      const key = String(path[path.length - 1]);
      const inner = i.issues[0]?.message ?? i.message;
      return [this.located(path.slice(0, -1), `"${key}": ${inner}`, key)];
    }
    const valueNode = this.nodeAt(path);
    const target = valueNode ?? this.nearest(path);
    const message =
      i.code === 'invalid_type' && valueNode === undefined ? missingMessage(path, i.message) : i.message;
    return [{ location: this.at(target?.range?.[0] ?? 0), path: formatPath(path), message }];
  }
}

function missingMessage(path: (string | number)[], fallback: string): string {
  const last = path[path.length - 1];
  return last !== undefined ? `"${String(last)}" is required` : fallback;
}

const KNOWN_KEYS = [
  'version',
  'hosts',
  'volumeGroups',
  'directories',
  'policies',
  'guests',
  'disks',
  'storage',
  'size',
  'protect',
  'policy',
  'snapshots',
  'host',
  'pvs',
  'reserve',
  'wipe',
  'path',
  'timezone',
  'schedule',
  'retention',
  'maxChainDepth',
  'maxDeletesPerRun',
  'last',
  'within',
  'hourly',
  'daily',
  'weekly',
  'monthly',
  'yearly',
  'ssh',
  'user',
  'port',
  'identityFile',
  'knownHosts',
  'knownHostsFile',
  'description',
];

/** "did you mean" for near-miss keys (case, one typo). */
function suggest(key: string, _path: (string | number)[]): string {
  const lower = key.toLowerCase();
  const best = KNOWN_KEYS.find(
    (k) => k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) === 1,
  );
  return best && best !== key ? `; did you mean "${best}"?` : '';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (dp[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = dp[i] as number[];
      const prev = dp[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return (dp[a.length] as number[])[b.length] as number;
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.map(String).join('.');
}
