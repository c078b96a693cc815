/**
 * A storage's record of its recent merges (issue 12, time estimates): the bytes a plan said each
 * would copy and the milliseconds it took. Planned bytes, not bytes written: the rate then also
 * corrects the byte estimate's own error, which is what a time estimate built on it needs.
 */

export interface MergeSample {
  bytes: number;
  ms: number;
}

/** What observation found: the samples, or why the record could not be used. */
export interface MergeHistory {
  samples: MergeSample[];
  /** The record exists but is not lvchain's (damaged, planted, too long): it is not used. */
  problem?: string;
}

/** Recent merges only: a storage's speed drifts with its load and its hardware. */
export const MERGE_SAMPLES_KEPT = 8;

/** Until a storage has a merge on record: slow on purpose, so a first estimate errs long. */
export const ASSUMED_BYTES_PER_SECOND = 50 * 1024 * 1024;

export function isSample(s: MergeSample): boolean {
  return Number.isSafeInteger(s.bytes) && s.bytes > 0 && Number.isSafeInteger(s.ms) && s.ms > 0;
}

/** The record after these merges: the newest MERGE_SAMPLES_KEPT. */
export function withSamples(old: readonly MergeSample[], added: readonly MergeSample[]): MergeSample[] {
  return [...old, ...added].filter(isSample).slice(-MERGE_SAMPLES_KEPT);
}

export interface Throughput {
  bytesPerSecond: number;
  /** `recorded`: from this storage's merges on record; `assumed`: none yet. */
  basis: 'recorded' | 'assumed';
  merges: number;
}

/** Bytes over time across the samples, so a large merge weighs more than a small one. */
export function throughputOf(samples: readonly MergeSample[]): Throughput {
  const kept = samples.filter(isSample);
  const bytes = kept.reduce((n, s) => n + s.bytes, 0);
  const ms = kept.reduce((n, s) => n + s.ms, 0);
  if (kept.length === 0 || ms === 0)
    return { bytesPerSecond: ASSUMED_BYTES_PER_SECOND, basis: 'assumed', merges: 0 };
  return {
    bytesPerSecond: Math.max(1, Math.round((bytes * 1000) / ms)),
    basis: 'recorded',
    merges: kept.length,
  };
}

/** `1610612736:1623+52428800:210`: LVM's tag characters carry it (the LVM driver prefixes its key). */
export function encodeSamples(samples: readonly MergeSample[]): string {
  return samples.map((s) => `${s.bytes}:${s.ms}`).join('+');
}

export function decodeSamples(text: string): MergeSample[] | undefined {
  if (text.length > 512) return undefined;
  const out: MergeSample[] = [];
  for (const part of text.split('+')) {
    const m = /^(\d{1,16}):(\d{1,12})$/.exec(part);
    if (!m) return undefined;
    const s = { bytes: Number(m[1]), ms: Number(m[2]) };
    if (!isSample(s)) return undefined;
    out.push(s);
  }
  return out.length <= MERGE_SAMPLES_KEPT ? out : undefined;
}
