/**
 * The observed fingerprint (DESIGN §8): per storage, the owned layers a plan depends on:
 * names, LV uuids and sizes, metadata and chain links. Foreign objects are left out: they
 * do not invalidate a plan (a foreign LV filling the VG shows up as a failed lvcreate).
 */
import { createHash } from 'node:crypto';
import type { Observed, ObservedStorage } from '../model/observed.js';
import type { Fingerprint } from '../model/plan.js';
import { canonicalMeta } from '../model/meta.js';

export function storageItems(storage: ObservedStorage): string[] {
  // A VG's existence matters; an absent directory holds the same (no) chains as an empty one.
  const items: string[] =
    storage.kind === 'lvm' ? [`storage ${storage.name} lvm exists=${storage.exists}`] : [];
  for (const disk of Object.values(storage.disks)) {
    for (const l of disk.layers) {
      if (!l.meta) continue;
      const h = l.header.state === 'read' ? l.header : undefined;
      const backing = h
        ? h.backing.kind === 'none'
          ? '-'
          : h.backing.kind === 'layer'
            ? 'ok'
            : `invalid:${h.backing.name}`
        : '?';
      items.push(
        [
          'layer',
          l.name,
          l.lv?.uuid ?? '',
          l.capacity ?? '',
          h ? h.header.virtualSize : '?',
          h?.header.backingName ?? '-',
          backing,
          JSON.stringify(canonicalMeta(l.meta)),
        ].join(' '),
      );
    }
  }
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

/** What differs between two fingerprints, for "Saved plan is stale" messages. */
export function fingerprintChanges(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(before.storages), ...Object.keys(after.storages)])].sort()) {
    const b = new Set(before.storages[name]?.items ?? []);
    const a = new Set(after.storages[name]?.items ?? []);
    for (const item of b) if (!a.has(item)) out.push(`${name}: gone or changed: ${item}`);
    for (const item of a) if (!b.has(item)) out.push(`${name}: new or changed: ${item}`);
  }
  return out;
}
