/**
 * Sizing a chain on LVM needs `qemu-img measure` of every virtual size it holds; the headers
 * read after observation may show sizes the plan never needed measured.
 */
import type { ObservedDisk, ObservedStorage } from '../model/observed.js';
import type { Realiser } from './realiser.js';

export async function measureChainSizes(
  realiser: Realiser,
  storage: ObservedStorage,
  disk: ObservedDisk,
  extra: readonly number[] = [],
): Promise<void> {
  const sizes = new Set<number>(extra);
  for (const l of disk.layers) if (l.header.state === 'read') sizes.add(l.header.header.virtualSize);
  const unmeasured = [...sizes].filter((v) => storage.measurements[v] === undefined);
  if (unmeasured.length > 0) await realiser.measure(storage, unmeasured);
}
