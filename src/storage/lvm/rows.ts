/** The disks and foreign LVs of one VG, from its `lvs` rows: names and tags decide, nothing is read. */
import type { ForeignObject, ObservedDisk, ObservedLayer } from '../../model/observed.js';
import { parseLvName } from './layout.js';
import { tagsToMeta } from './tags.js';
import { lvTimeIso, splitTags, type LvRow } from './report.js';

export function disksFromRows(
  storage: string,
  rows: readonly LvRow[],
  declared: readonly string[],
): { disks: Record<string, ObservedDisk>; foreign: ForeignObject[] } {
  const tagged = new Set(declared);
  const parsedTags = rows.map((r) => tagsToMeta(splitTags(r.lv_tags)));
  for (const t of parsedTags) if (t.meta) tagged.add(t.meta.disk);
  const disks: Record<string, ObservedDisk> = {};
  const foreign: ForeignObject[] = [];
  rows.forEach((r, i) => {
    const tags = parsedTags[i] as ReturnType<typeof tagsToMeta>;
    const parsed = parseLvName(r.lv_name, tagged);
    if (!parsed || (tags.meta && tags.meta.disk !== parsed.disk)) {
      if (tags.meta) {
        const d = (disks[tags.meta.disk] ??= { name: tags.meta.disk, storage, layers: [] });
        (d.unplaced ??= []).push(r.lv_name);
      } else
        foreign.push({
          name: r.lv_name,
          bytes: r.lv_size,
          note: 'no lvchain metadata',
          active: r.lv_active === 'active',
        });
      return;
    }
    const disk = (disks[parsed.disk] ??= { name: parsed.disk, storage, layers: [] });
    const active = r.lv_active === 'active';
    const time = lvTimeIso(r.lv_time);
    const layer: ObservedLayer = {
      ref: parsed.ref,
      name: r.lv_name,
      header: active
        ? { state: 'not-read', reason: 'not needed by the plan so far' }
        : { state: 'not-read', reason: 'the LV is inactive; plan does not activate anything' },
      bytes: r.lv_size,
      capacity: r.lv_size,
      lv: {
        uuid: r.lv_uuid,
        active,
        attr: r.lv_attr,
        tags: splitTags(r.lv_tags),
        ...(time ? { time } : {}),
      },
      open: r.lv_device_open === 'open',
      ...(time ? { born: time } : {}),
    };
    if (tags.meta) layer.meta = tags.meta;
    if (tags.problems.length > 0) layer.metaProblems = tags.problems;
    disk.layers.push(layer);
  });
  return { disks, foreign };
}
