/** Parsers for `vgs`/`lvs --reportformat json --units b --nosuffix` and `wipefs --json`. */
import { z } from 'zod';
import { isoSeconds } from '../../base/instants.js';

const num = z.string().regex(/^\d+$/).transform(Number);

const vgRow = z.looseObject({
  vg_name: z.string(),
  vg_uuid: z.string(),
  vg_size: num,
  vg_free: num,
  vg_extent_size: num,
  vg_mda_size: num,
  vg_mda_free: num,
  lv_count: num,
  vg_tags: z.string().optional(),
});

const lvRow = z.looseObject({
  lv_name: z.string(),
  lv_uuid: z.string(),
  lv_size: num,
  lv_tags: z.string(),
  lv_attr: z.string(),
  lv_active: z.string(),
  lv_time: z.string(),
  lv_device_open: z.string(),
});

export type VgRow = z.output<typeof vgRow>;
export type LvRow = z.output<typeof lvRow>;

const report = <T extends z.ZodType>(key: 'vg' | 'lv' | 'pv', row: T) =>
  z.looseObject({ report: z.array(z.looseObject({ [key]: z.array(row) })) });

export function parseVgs(stdout: string): VgRow[] {
  const r = report('vg', vgRow).parse(JSON.parse(stdout));
  return r.report.flatMap((x) => (x as { vg: VgRow[] }).vg);
}

export function parseLvs(stdout: string): LvRow[] {
  const r = report('lv', lvRow).parse(JSON.parse(stdout));
  return r.report.flatMap((x) => (x as { lv: LvRow[] }).lv);
}

export const VGS_FIELDS =
  'vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_mda_size,vg_mda_free,lv_count,vg_tags';
export const LVS_FIELDS = 'lv_name,lv_uuid,lv_size,lv_tags,lv_attr,lv_active,lv_time,lv_device_open';
/** lvs can report its VG's fields on every row: one LVM process instead of two. */
export const LVS_WITH_VG_FIELDS = `${LVS_FIELDS},${VGS_FIELDS}`;

/** A JSON report, sizes in bytes without suffix, as the parsers expect. */
const REPORT_FORMAT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];

/** A report of `fields` for one VG. */
export function reportArgv(command: 'lvs' | 'vgs', fields: string, vg: string): string[] {
  return [command, ...REPORT_FORMAT, '-o', fields, vg];
}

/** The VG a device is a PV of: its name, empty for a PV in no VG; fails if it is no PV. */
export function pvOwnerArgv(device: string): string[] {
  return ['pvs', '--noheadings', '-o', 'vg_name', device];
}

/** Each device with the VG it is a PV of, if any, from `pvOwnerArgv` results in order. */
export function pvOwners(
  devices: readonly string[],
  results: readonly { failed: boolean; stdout: string }[],
): { path: string; vg?: string }[] {
  return devices.map((path, i) => {
    const r = results[i];
    const vg = r && !r.failed ? r.stdout.trim() : '';
    return vg === '' ? { path } : { path, vg };
  });
}

/** The host-side lock file of a VG (DESIGN §9). */
export function vgLockPath(vg: string): string {
  return `/run/lock/lvchain/${vg}.lock`;
}

/**
 * A plan's one LVM process for a VG: `pvs` can report LV and VG fields on each PV segment, so
 * one call says which devices the VG is on, its fields and its LVs, where `lvs` plus a `pvs`
 * per declared device cost two LVM start-ups (issue 14: plan over ssh). The VG's name is an LVM
 * name (the config's schema checks it): none of its characters ends an unquoted selection value,
 * which only a space or a logical operator does.
 */
export const VG_REPORT_FIELDS = `pv_name,${LVS_WITH_VG_FIELDS}`;

export function vgReportArgv(vg: string): string[] {
  return ['pvs', ...REPORT_FORMAT, '-o', VG_REPORT_FIELDS, '--select', `vg_name=${vg}`];
}

const segmentRow = z.looseObject({ pv_name: z.string(), lv_uuid: z.string() });

export interface VgReport {
  vg: VgRow;
  /** The devices the VG is on. */
  pvs: string[];
  /**
   * Its visible LVs, sorted by name as `lvs` prints them; undefined when some have no segment
   * on a PV (thin volumes, virtual LVs), which only `lvs` lists: the VG's `lv_count` tells.
   */
  lvs?: LvRow[];
}

/** What a `vgReportArgv` printed; undefined when no PV is in the VG (it does not exist). */
export function parseVgReport(stdout: string): VgReport | undefined {
  const rows = report('pv', z.unknown())
    .parse(JSON.parse(stdout))
    .report.flatMap((x) => (x as { pv: unknown[] }).pv);
  const first = rows[0];
  if (first === undefined) return undefined;
  const vg = vgRow.parse(first);
  const pvs = new Set<string>();
  const lvs = new Map<string, LvRow>();
  for (const raw of rows) {
    const seg = segmentRow.parse(raw);
    pvs.add(seg.pv_name);
    if (seg.lv_uuid === '') continue; // free space
    const lv = lvRow.parse(raw);
    // Hidden LVs (a thin pool's data, a mirror's images) are shown in brackets; lvs leaves them out.
    if (!lv.lv_name.startsWith('[')) lvs.set(seg.lv_uuid, lv);
  }
  const sorted = [...lvs.values()].sort((a, b) =>
    a.lv_name < b.lv_name ? -1 : a.lv_name > b.lv_name ? 1 : 0,
  );
  return { vg, pvs: [...pvs], ...(sorted.length === vg.lv_count ? { lvs: sorted } : {}) };
}

export function splitTags(text: string): string[] {
  return text === '' ? [] : text.split(',');
}

/** `lv_time` ("2026-11-21 22:44:40 +0000") as a UTC ISO instant. */
export function lvTimeIso(text: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[3]}${m[4]}:${m[5]}`);
  return Number.isNaN(ms) ? undefined : isoSeconds(ms);
}

const wipefs = z.looseObject({
  signatures: z.array(
    z.looseObject({ type: z.string().nullable().optional(), offset: z.string().optional() }),
  ),
});

/** Signatures on a device (filesystems, LVM, partition tables, RAID…); empty means blank. */
export function parseWipefs(stdout: string): string[] {
  if (stdout.trim() === '') return [];
  return wipefs
    .parse(JSON.parse(stdout))
    .signatures.map((s) => `${s.type ?? 'unknown'}${s.offset ? ` at ${s.offset}` : ''}`);
}
