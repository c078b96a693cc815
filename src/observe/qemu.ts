/** Parsers for qemu-img's JSON output (QEMU 7.2 and later). Facts in, no decisions. */
import { z } from 'zod';
import type { LayerHeader, Measurement } from '../model/observed.js';
import type { Extents } from '../model/extents.js';
import { normalize } from '../base/ranges.js';

const imageInfo = z.looseObject({
  filename: z.string(),
  format: z.string(),
  'virtual-size': z.number(),
  'cluster-size': z.number().optional(),
  'dirty-flag': z.boolean().optional(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'backing-filename-format': z.string().optional(),
  'format-specific': z
    .looseObject({
      type: z.string(),
      data: z
        .looseObject({
          corrupt: z.boolean().optional(),
          'extended-l2': z.boolean().optional(),
          compat: z.string().optional(),
          'lazy-refcounts': z.boolean().optional(),
          'refcount-bits': z.number().optional(),
          'compression-type': z.string().optional(),
          'data-file': z.string().optional(),
          encrypt: z.unknown().optional(),
          bitmaps: z.array(z.looseObject({ name: z.string() })).optional(),
        })
        .optional(),
    })
    .optional(),
  encrypted: z.boolean().optional(),
});

export interface ParsedInfo {
  filename: string;
  header: LayerHeader;
}

function toParsed(raw: z.infer<typeof imageInfo>): ParsedInfo {
  const data = raw['format-specific']?.data;
  const header: LayerHeader = {
    format: raw.format,
    virtualSize: raw['virtual-size'],
    clusterSize: raw['cluster-size'],
    extendedL2: data?.['extended-l2'] === true,
    dirty: raw['dirty-flag'] === true,
    corrupt: data?.corrupt === true,
  };
  if (raw.encrypted === true || data?.encrypt !== undefined) header.encrypted = true;
  if (data?.bitmaps && data.bitmaps.length > 0) header.bitmaps = data.bitmaps.map((b) => b.name);
  if (raw['backing-filename'] !== undefined) header.backingName = raw['backing-filename'];
  if (raw['backing-filename-format'] !== undefined) header.backingFormat = raw['backing-filename-format'];
  if (raw['full-backing-filename'] !== undefined) header.backingPath = raw['full-backing-filename'];
  if (data?.['data-file'] !== undefined) header.dataFile = data['data-file'];
  if (data?.compat !== undefined) header.compat = data.compat;
  if (data?.['lazy-refcounts'] !== undefined) header.lazyRefcounts = data['lazy-refcounts'];
  if (data?.['refcount-bits'] !== undefined) header.refcountBits = data['refcount-bits'];
  if (data?.['compression-type'] !== undefined) header.compressionType = data['compression-type'];
  return { filename: raw.filename, header };
}

/** `qemu-img info --output=json`, with or without `--backing-chain` (array or object). */
export function parseInfo(stdout: string): ParsedInfo[] {
  const json: unknown = JSON.parse(stdout);
  const list = Array.isArray(json) ? json : [json];
  return list.map((item) => toParsed(imageInfo.parse(item)));
}

/** qemu-img's error line, without the program prefix and repeated "Could not open" wrappers. */
export function qemuError(stderr: string): string {
  const line = stderr.trim().split('\n').filter(Boolean).pop() ?? 'unknown error';
  const cleaned = line.replace(/^qemu-img:\s*/, '');
  // qemu nests the same "Could not open 'X': " prefix once per block layer.
  return cleaned.replace(/(Could not open '[^']*': )(?:\1)+/g, '$1');
}

/** Does this failure mean another process (a running VM) holds the image? */
export function isLockError(stderr: string): boolean {
  return /Failed to get ".*" lock|Is another process using the image/.test(stderr);
}

const mapEntry = z.looseObject({
  start: z.number(),
  length: z.number(),
  depth: z.number(),
  present: z.boolean(),
  zero: z.boolean(),
  data: z.boolean(),
});

/** Where a layer's map ends: its virtual size, as `qemu-img map` covers the whole of it. */
export function mapEnd(stdout: string): number {
  return z
    .array(mapEntry)
    .parse(JSON.parse(stdout))
    .reduce((end, e) => Math.max(end, e.start + e.length), 0);
}

/** `qemu-img map --output=json` of one layer opened with its backing cut off. */
export function parseLayerMap(stdout: string): Extents {
  const entries = z.array(mapEntry).parse(JSON.parse(stdout));
  const data: [number, number][] = [];
  const zero: [number, number][] = [];
  for (const e of entries) {
    if (e.depth !== 0 || !e.present) continue;
    (e.data ? data : zero).push([e.start, e.start + e.length]);
  }
  return { data: normalize(data), zero: normalize(zero) };
}

const measure = z.looseObject({ required: z.number(), 'fully-allocated': z.number() });

export function parseMeasure(stdout: string): Measurement {
  const m = measure.parse(JSON.parse(stdout));
  return { required: m.required, fullyAllocated: m['fully-allocated'] };
}
