/**
 * lvchain's metadata as LV tags (DESIGN §3): stored in the VG metadata, seen by every host.
 * One tag per field, `lvchain.<field>=<value>`, within LVM's tag characters.
 */
import type { LayerMeta } from '../../model/meta.js';
import { decodeIntent, encodeIntent } from '../../model/intent.js';
import { ISO_INSTANT as ISO } from '../../base/instants.js';
import type { MergeHistory, MergeSample } from '../../model/merge-history.js';
import { decodeSamples, encodeSamples } from '../../model/merge-history.js';

const PREFIX = 'lvchain.';

export function metaToTags(meta: LayerMeta | null | undefined): string[] {
  if (!meta) return [];
  const tags = [`${PREFIX}disk=${meta.disk}`];
  if (meta.snap !== undefined) tags.push(`${PREFIX}snap=${meta.snap}`);
  if (meta.created !== undefined) tags.push(`${PREFIX}created=${meta.created}`);
  if (meta.kind !== undefined) tags.push(`${PREFIX}kind=${meta.kind}`);
  if (meta.policy !== undefined) tags.push(`${PREFIX}policy=${meta.policy}`);
  if (meta.guest !== undefined) tags.push(`${PREFIX}guest=${meta.guest}`);
  if (meta.size !== undefined) tags.push(`${PREFIX}size=${meta.size}`);
  if (meta.consistency !== undefined) tags.push(`${PREFIX}consistency=${meta.consistency}`);
  if (meta.pivoted) tags.push(`${PREFIX}pivoted`);
  if (meta.protect) tags.push(`${PREFIX}protect`);
  if (meta.incomplete) tags.push(`${PREFIX}incomplete`);
  if (meta.intent !== undefined) tags.push(`${PREFIX}intent=${encodeIntent(meta.intent)}`);
  return tags;
}

/** The metadata in an LV's tags; undefined when it carries no `lvchain.disk` (not owned). */
export function tagsToMeta(tags: readonly string[]): { meta?: LayerMeta; problems: string[] } {
  const problems: string[] = [];
  const fields = new Map<string, string>();
  for (const t of tags) {
    if (!t.startsWith(PREFIX)) continue;
    const eq = t.indexOf('=');
    const key = eq < 0 ? t.slice(PREFIX.length) : t.slice(PREFIX.length, eq);
    if (fields.has(key)) problems.push(`two ${PREFIX}${key} tags`);
    fields.set(key, eq < 0 ? '' : t.slice(eq + 1));
  }
  const disk = fields.get('disk');
  if (disk === undefined) return { problems };
  const meta: LayerMeta = { disk };
  const snap = fields.get('snap');
  if (snap !== undefined) meta.snap = snap;
  const created = fields.get('created');
  if (created !== undefined) {
    if (ISO.test(created)) meta.created = created;
    else problems.push(`${PREFIX}created=${created} is not a UTC instant`);
  }
  const kind = fields.get('kind');
  if (kind === 'auto' || kind === 'pinned' || kind === 'external') meta.kind = kind;
  else if (kind !== undefined) problems.push(`${PREFIX}kind=${kind} is unknown`);
  const policy = fields.get('policy');
  if (policy !== undefined) meta.policy = policy;
  const guest = fields.get('guest');
  if (guest !== undefined) meta.guest = guest;
  const size = fields.get('size');
  if (size !== undefined) {
    if (/^\d+$/.test(size)) meta.size = Number(size);
    else problems.push(`${PREFIX}size=${size} is not a number of bytes`);
  }
  const consistency = fields.get('consistency');
  if (consistency === 'fs' || consistency === 'crash') meta.consistency = consistency;
  else if (consistency !== undefined) problems.push(`${PREFIX}consistency=${consistency} is unknown`);
  if (fields.has('pivoted')) meta.pivoted = true;
  if (fields.has('protect')) meta.protect = true;
  if (fields.has('incomplete')) meta.incomplete = true;
  const intent = fields.get('intent');
  if (intent !== undefined) {
    const decoded = decodeIntent(intent);
    if (decoded) meta.intent = decoded;
    else problems.push(`${PREFIX}intent=${intent} is not an intent lvchain writes`);
  }
  return { meta, problems };
}

/** Tag changes turning `from` into `to`, leaving every tag that is not lvchain's alone. */
export function tagDiff(from: LayerMeta | null | undefined, to: LayerMeta): { add: string[]; del: string[] } {
  const before = new Set(metaToTags(from));
  const after = new Set(metaToTags(to));
  return { add: [...after].filter((t) => !before.has(t)), del: [...before].filter((t) => !after.has(t)) };
}

const MERGES = `${PREFIX}merges=`;

/** The VG's merge record (one tag, `lvchain.merges=<bytes>:<ms>+…`), from `vg_tags` as LVM reports it. */
export function mergeHistoryFromVgTags(vgTags: string): MergeHistory {
  const tags = vgTags.split(',').filter((t) => t.startsWith(MERGES));
  if (tags.length === 0) return { samples: [] };
  const samples = tags.length === 1 ? decodeSamples((tags[0] as string).slice(MERGES.length)) : undefined;
  return samples
    ? { samples }
    : {
        samples: [],
        problem: `the VG's ${MERGES}… tag${tags.length > 1 ? 's are' : ' is'} not one lvchain writes`,
      };
}

/** The tag changes that replace the VG's merge record (every old record tag goes). */
export function mergeTagDiff(
  vgTags: string,
  samples: readonly MergeSample[],
): { add: string; del: string[] } {
  return {
    add: `${MERGES}${encodeSamples(samples)}`,
    del: vgTags.split(',').filter((t) => t.startsWith(MERGES)),
  };
}
