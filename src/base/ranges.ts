/** Interval arithmetic on sorted, disjoint [start, end) byte ranges. */
export type Ranges = [number, number][];

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
