/**
 * What differs between a saved plan's fingerprint and the current one, in words: which LV or
 * file is new or gone, and which field of it changed. Fingerprint items are JSON objects
 * (fingerprint.ts); one this lvchain cannot read is shown as it is.
 */
import type { Fingerprint } from '../model/plan.js';
import { formatBytes } from '../base/units.js';

const LABELS: Record<string, string> = {
  exists: 'exists',
  lv_uuid: 'LV uuid',
  lv_size: 'LV size',
  size: 'size',
  backing_file: 'backing file',
  backing: 'backing link',
};

/** An item's object and name as the key ("lv vm-101-disk-0.qcow2"), and its other fields. */
function parseItem(item: string): { key: string; fields: Record<string, unknown> } | undefined {
  try {
    const v = JSON.parse(item) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const { object, name, ...fields } = v as Record<string, unknown>;
    if (typeof object !== 'string' || typeof name !== 'string') return undefined;
    return { key: `${object} ${name}`, fields: flatten(fields) };
  } catch {
    return undefined;
  }
}

/** Metadata fields one by one ("metadata snap"), so a change names the field. */
function flatten(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'meta' && typeof v === 'object' && v !== null)
      for (const [mk, mv] of Object.entries(v)) out[`metadata ${mk}`] = mv;
    else out[LABELS[k] ?? k] = v;
  }
  return out;
}

function show(field: string, v: unknown): string {
  if (v === undefined) return 'unset';
  if (v === null) return 'not read';
  if (typeof v === 'number' && (field === 'size' || field === 'LV size')) return formatBytes(v);
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * What differs between two fingerprints, for "Saved plan is stale" messages: which LV or file is
 * new or gone, and which field of it changed ("lab: lv vm-101-disk-0.qcow2: size 1 GiB → 2 GiB").
 */
export function fingerprintChanges(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(before.storages), ...Object.keys(after.storages)])].sort()) {
    const side = (f: Fingerprint) => {
      const parsed = new Map<string, Record<string, unknown>>();
      const raw: string[] = [];
      for (const item of f.storages[name]?.items ?? []) {
        const p = parseItem(item);
        if (p) parsed.set(p.key, p.fields);
        else raw.push(item);
      }
      return { parsed, raw };
    };
    const b = side(before);
    const a = side(after);
    for (const key of [...new Set([...b.parsed.keys(), ...a.parsed.keys()])].sort()) {
      const was = b.parsed.get(key);
      const now = a.parsed.get(key);
      if (!now) out.push(`${name}: ${key} is gone`);
      else if (!was) out.push(`${name}: ${key} is new`);
      else {
        const fields = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter(
          (f) => JSON.stringify(was[f]) !== JSON.stringify(now[f]),
        );
        if (fields.length > 0)
          out.push(
            `${name}: ${key}: ${fields.map((f) => `${f} ${show(f, was[f])} → ${show(f, now[f])}`).join('; ')}`,
          );
      }
    }
    // Items this lvchain cannot read (another version's plan) are shown as they are.
    const rawAfter = new Set(a.raw);
    const rawBefore = new Set(b.raw);
    for (const item of b.raw) if (!rawAfter.has(item)) out.push(`${name}: gone or changed: ${item}`);
    for (const item of a.raw) if (!rawBefore.has(item)) out.push(`${name}: new or changed: ${item}`);
  }
  return out;
}
