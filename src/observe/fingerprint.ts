/**
 * The observed fingerprint (DESIGN §8): per storage, the owned layers a plan depends on:
 * names, LV uuids and sizes, metadata and chain links. Foreign objects are left out: they
 * do not invalidate a plan (a foreign LV filling the VG shows up as a failed lvcreate).
 * Each item is one JSON object, so a stale plan can say which field of which LV or file changed
 * (fingerprint-diff.ts).
 */
import { createHash } from 'node:crypto';
import type { Observed, ObservedLayer, ObservedStorage } from '../model/observed.js';
import type { Fingerprint } from '../model/plan.js';
import { canonicalMeta } from '../model/meta.js';

/** One layer as the fingerprint holds it; null where its header was not read. */
interface LayerItem {
  /** `lv` on a volume group, `file` on a directory. */
  object: 'lv' | 'file';
  name: string;
  lv_uuid: string | null;
  lv_size: number | null;
  size: number | null;
  backing_file: string | null;
  backing: string | null;
  meta: unknown;
}

function layerItem(storage: ObservedStorage, l: ObservedLayer): LayerItem {
  const h = l.header.state === 'read' ? l.header : undefined;
  return {
    object: storage.kind === 'lvm' ? 'lv' : 'file',
    name: l.name,
    lv_uuid: l.lv?.uuid ?? null,
    lv_size: l.capacity ?? null,
    size: h ? h.header.virtualSize : null,
    backing_file: h ? (h.header.backingName ?? '') : null,
    backing: h
      ? h.backing.kind === 'none'
        ? 'none'
        : h.backing.kind === 'layer'
          ? 'ok'
          : `invalid: ${h.backing.name}`
      : null,
    meta: canonicalMeta(l.meta),
  };
}

export function storageItems(storage: ObservedStorage): string[] {
  // A VG's existence matters; an absent directory holds the same (no) chains as an empty one.
  const items: string[] =
    storage.kind === 'lvm'
      ? [JSON.stringify({ object: 'vg', name: storage.name, exists: storage.exists })]
      : [];
  for (const disk of Object.values(storage.disks))
    for (const l of disk.layers) if (l.meta) items.push(JSON.stringify(layerItem(storage, l)));
  return items.sort();
}

export function fingerprint(observed: Observed): Fingerprint {
  const storages: Fingerprint['storages'] = {};
  const all = createHash('sha256');
  for (const name of Object.keys(observed.storages).sort()) {
    const items = storageItems(observed.storages[name] as ObservedStorage);
    const digest = createHash('sha256').update(items.join('\n')).digest('hex');
    storages[name] = { digest, items };
    all.update(`${name} ${digest}\n`);
  }
  return { digest: all.digest('hex'), storages };
}
