/**
 * A parsed config document that knows where things are: a config path or a YAML node becomes
 * file:line:col, pointing where a reader looks (the value, or the key that names a map).
 */
import type { Document, Node as YamlNode } from 'yaml';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { ConfigIssue } from '../base/errors.js';
import type { Segment } from './path.js';
import { formatPath } from './path.js';

export class Locator {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();
  readonly file: string;
  readonly text: string;

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

  offsetOf(node: YamlNode | undefined): number {
    return node?.range?.[0] ?? 0;
  }

  /** The pair of `key` in the map at `path`, following aliases on the way. */
  pairAt(path: Segment[], key: Segment) {
    const parent = this.follow(path.length === 0 ? this.doc.contents : this.nodeAt(path));
    if (!isMap(parent)) return undefined;
    return parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
  }

  follow(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  nodeAt(path: Segment[]): YamlNode | undefined {
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
  keyNode(path: Segment[], key: Segment): YamlNode | undefined {
    const pair = this.pairAt(path, key);
    return pair && isScalar(pair.key) ? pair.key : undefined;
  }

  /** The deepest existing node along the path, for values that are missing. */
  nearest(path: Segment[]): YamlNode | undefined {
    for (let n = path.length; n > 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (node) return node;
    }
    return (this.doc.contents as YamlNode | null) ?? undefined;
  }

  /** `key:` with nothing after it. */
  isImplicitNull(node: YamlNode | undefined): boolean {
    return isScalar(node) && node.value === null && (node.range?.[0] ?? 0) === (node.range?.[1] ?? 0);
  }

  /**
   * Where an issue at `path` points: a scalar value itself; for a map or list (or a key
   * with no value), the key that names it, which is where the reader looks.
   */
  pointAt(path: Segment[]): YamlNode | undefined {
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
}
