/** What the config schema expects at a path: the keys of a map, for "did you mean" and "is required". */
import { z } from 'zod';
import { closest } from '../base/names.js';
import { configSchema } from './schema.js';
import type { Segment } from './path.js';

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
export function objectKeys(path: readonly Segment[]): { keys: string[]; required: string[] } | undefined {
  const s = schemaAt(path);
  const u = s && unwrap(s);
  const candidates = u instanceof z.ZodUnion ? (u.options as z.ZodType[]).map(unwrap) : u ? [u] : [];
  // A union of map forms (vm: qmp or proxmox) allows the keys of each; a key is required only by all.
  const shapes = candidates
    .filter((c): c is z.ZodObject => c instanceof z.ZodObject)
    .map((c) => c.shape as Record<string, z.ZodType>);
  if (shapes.length === 0) return undefined;
  const keys = [...new Set(shapes.flatMap((shape) => Object.keys(shape)))];
  const needed = (k: string) =>
    shapes.every((shape) => shape[k] !== undefined && !shape[k].safeParse(undefined).success);
  return { keys, required: keys.filter(needed) };
}

function quoteList(keys: readonly string[]): string {
  return keys.map((k) => `"${k}"`).join(', ');
}

/** "did you mean" for near-miss keys, from the keys allowed at that place. */
export function suggestKey(key: string, path: readonly Segment[]): string {
  if (key === '<<') return '; YAML merge keys ("<<") are not supported: write the keys out';
  const allowed = objectKeys(path)?.keys ?? [];
  const best = closest(key, allowed);
  if (best !== undefined) return `; did you mean "${best}"?`;
  return allowed.length > 0 ? `; expected one of ${quoteList(allowed)}` : '';
}

export function mapNeeds(path: readonly Segment[], expected: string): string {
  if (expected === 'record') return 'add entries under it, or leave the key out';
  const keys = objectKeys(path);
  if (keys && keys.required.length > 0) return `it needs ${quoteList(keys.required)}`;
  return keys ? `expected a map with ${quoteList(keys.keys)}` : 'expected a map';
}

export function mapContents(path: readonly Segment[], expected: string): string {
  if (expected === 'record') return ' of names to settings';
  const keys = objectKeys(path);
  return keys ? ` with keys such as ${quoteList(keys.keys.slice(0, 4))}` : '';
}
