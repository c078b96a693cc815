/** Allocation of one layer by itself, as `qemu-img map` with the backing cut off reports it. */
export interface Extents {
  /** Sorted, disjoint [start, end) byte ranges holding data. */
  data: [number, number][];
  /** Sorted, disjoint ranges allocated as zero clusters (they shadow what lies below). */
  zero: [number, number][];
}
