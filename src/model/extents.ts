/** What a layer allocates, and what a commit or a stream makes of two layers' allocations. */
import type { Ranges } from '../base/ranges.js';
import { subtract, total, union } from '../base/ranges.js';

/** Allocation of one layer by itself, as `qemu-img map` with the backing cut off reports it. */
export interface Extents {
  /** Sorted, disjoint [start, end) byte ranges holding data. */
  data: [number, number][];
  /** Sorted, disjoint ranges allocated as zero clusters (they shadow what lies below). */
  zero: [number, number][];
}

export const NO_EXTENTS: Extents = { data: [], zero: [] };

/** Everything this layer shadows: data and zero clusters alike. */
export function allocated(x: Extents): Ranges {
  return union(x.data, x.zero);
}

/** Bytes `qemu-img commit -d C` copies into S: the data allocated in C (zero clusters are metadata). */
export function commitCost(child: Extents): number {
  return total(child.data);
}

/** Bytes QEMU's live `block-commit` below the top writes: it copies zero clusters as data. */
export function liveCommitCost(child: Extents): number {
  return total(allocated(child));
}

/** Bytes a rebase of C past S copies: what C sees through S, i.e. S's data that C does not shadow. */
export function streamCost(snapshot: Extents, child: Extents): number {
  return total(subtract(snapshot.data, allocated(child)));
}

/** S after `commit C into S`: C's clusters win. */
export function afterCommit(snapshot: Extents, child: Extents): Extents {
  const childAlloc = allocated(child);
  return {
    data: union(subtract(snapshot.data, childAlloc), child.data),
    zero: union(subtract(snapshot.zero, childAlloc), child.zero),
  };
}

/** C after streaming S into it: S's clusters fill what C did not shadow. */
export function afterStream(snapshot: Extents, child: Extents): Extents {
  const childAlloc = allocated(child);
  return {
    data: union(child.data, subtract(snapshot.data, childAlloc)),
    zero: union(child.zero, subtract(snapshot.zero, childAlloc)),
  };
}
