/**
 * A disk's shape: what a change expects to find (DESIGN §6). The plan carries it as typed rows,
 * checked by the plan schema when a saved plan is read; apply re-observes the disk and compares
 * the two before it runs anything.
 */
import type { LayerMeta } from '../model/meta.js';
import { refKey } from '../model/layer.js';
import { encodeIntent } from '../model/intent.js';
import type { ShapeRow } from '../model/shape.js';
import type { DiskState, SimLayer } from './state.js';

/** What a change expects to find, one row per layer in key order: metadata, links and sizes. */
export function shapeOf(state: DiskState): ShapeRow[] {
  const rows: ShapeRow[] = [];
  for (const key of Object.keys(state.layers).sort()) {
    const l = state.layers[key] as SimLayer;
    rows.push([
      key,
      l.meta ? metaText(l.meta) : null,
      l.formatted,
      l.backing === undefined ? '?' : l.backing === null ? null : refKey(l.backing),
      l.virtualSize ?? null,
      l.capacity ?? null,
    ]);
  }
  return rows;
}

/** Metadata in a fixed field order; cheaper than sorting keys for every layer of a plan. */
function metaText(m: LayerMeta): string {
  let t = `disk=${m.disk}`;
  if (m.snap !== undefined) t += `;snap=${m.snap}`;
  if (m.created !== undefined) t += `;created=${m.created}`;
  if (m.kind !== undefined) t += `;kind=${m.kind}`;
  if (m.policy !== undefined) t += `;policy=${m.policy}`;
  if (m.guest !== undefined) t += `;guest=${m.guest}`;
  if (m.size !== undefined) t += `;size=${m.size}`;
  if (m.protect) t += ';protect';
  if (m.incomplete) t += ';incomplete';
  if (m.intent !== undefined) t += `;intent=${encodeIntent(m.intent)}`;
  return t;
}

/**
 * Does a freshly observed shape match the one a change was planned against? Facts the plan
 * could not see (an inactive LV's header) are unknown in `expected` and match anything.
 */
export function shapeMatches(
  e: readonly ShapeRow[],
  a: readonly ShapeRow[],
): { ok: true } | { ok: false; why: string } {
  const ek = e.map((x) => x[0]).join(',');
  const ak = a.map((x) => x[0]).join(',');
  if (ek !== ak) return { ok: false, why: `layers were [${ek}], now [${ak}]` };
  for (let i = 0; i < e.length; i++) {
    const [key, meta, formatted, backing, virtualSize, capacity] = e[i] as ShapeRow;
    const y = a[i] as ShapeRow;
    if (meta !== y[1]) return { ok: false, why: `metadata of ${key} changed` };
    if (formatted !== y[2]) return { ok: false, why: `format state of ${key} changed` };
    if (capacity !== y[5]) return { ok: false, why: `size of ${key} changed` };
    if (backing !== '?' && backing !== y[3])
      return { ok: false, why: `backing of ${key} was ${backing ?? 'none'}, now ${y[3] ?? 'none'}` };
    if (virtualSize !== null && virtualSize !== y[4])
      return { ok: false, why: `virtual size of ${key} changed` };
  }
  return { ok: true };
}

/** Whether a shape was recorded without some facts (an inactive chain): apply then trusts what it reads. */
export function shapeHasUnknowns(shape: readonly ShapeRow[]): boolean {
  return shape.some((r) => r[3] === '?' || r[4] === null);
}
