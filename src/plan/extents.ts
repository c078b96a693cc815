/** Interval arithmetic on sorted, disjoint [start, end) byte ranges. */
import type { Extents } from '../model/extents.js';

export type Ranges = [number, number][];

export const NO_EXTENTS: Extents = { data: [], zero: [] };

export function normalize(ranges: Ranges): Ranges {
  const sorted = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export function union(a: Ranges, b: Ranges): Ranges {
  return normalize([...a, ...b]);
}

/** a minus b; both normalised. */
export function subtract(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  let j = 0;
  for (const [s0, e] of a) {
    let s = s0;
    while (j < b.length && (b[j] as [number, number])[1] <= s) j++;
    let k = j;
    while (k < b.length && (b[k] as [number, number])[0] < e) {
      const [bs, be] = b[k] as [number, number];
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      if (s >= e) break;
      k++;
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

export function total(ranges: Ranges): number {
  let sum = 0;
  for (const [s, e] of ranges) sum += e - s;
  return sum;
}

/** Everything this layer shadows: data and zero clusters alike. */
export function allocated(x: Extents): Ranges {
  return union(x.data, x.zero);
}

/** Bytes `qemu-img commit -d C` copies into S: the data allocated in C (zero clusters are metadata). */
export function commitCost(child: Extents): number {
  return total(child.data);
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
