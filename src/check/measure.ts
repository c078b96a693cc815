/** What `check` has qemu-img measure before judging a storage. */
import type { ObservedStorage } from '../model/observed.js';

/** The virtual sizes `interpretDisk` sizes LVs for: read headers of layers that are LVs. */
export function sizesToMeasure(observed: ObservedStorage): number[] {
  const sizes = new Set<number>();
  for (const d of Object.values(observed.disks))
    for (const l of d.layers)
      if (l.capacity !== undefined && l.header.state === 'read') sizes.add(l.header.header.virtualSize);
  return [...sizes].sort((a, b) => a - b);
}
