/**
 * `validate` prints the storage the declared disks need in the worst case. It touches no host:
 * sizes are measured with the local qemu-img when there is one, and estimated otherwise.
 */
import type { Desired } from '../model/desired.js';
import { LocalExecutor } from '../exec/local.js';
import { measureSizes } from '../engines/offline/index.js';
import { worstCaseRetained } from '../plan/schedule.js';
import { worstCaseBytes } from '../plan/capacity.js';
import { isLvchainError } from '../errors.js';

export interface WorstCase {
  storage: string;
  bytes: number | null;
  measured: boolean;
}

export async function worstCases(desired: Desired): Promise<WorstCase[]> {
  const sizes = [...new Set(Object.values(desired.disks).map((d) => d.size))];
  let fully: (v: number) => number;
  let measured = true;
  try {
    const m = await measureSizes(new LocalExecutor(), sizes);
    fully = (v) => (m[v] as { fullyAllocated: number }).fullyAllocated;
  } catch (e) {
    if (!isLvchainError(e) || e.code !== 'tool_missing') throw e;
    // qcow2 metadata stays under 0.1% of the disk with 128 KiB clusters; 4 MiB covers the rest.
    measured = false;
    fully = (v) => Math.ceil(v * 1.001) + 4 * 2 ** 20;
  }
  return Object.values(desired.storages).map((s) => {
    const extent = 4 * 2 ** 20;
    const disks = Object.values(desired.disks).filter((d) => d.storage === s.name);
    const bytes = worstCaseBytes(
      disks.map((d) => {
        const policy = d.policy !== undefined ? desired.policies[d.policy] : undefined;
        const pinned =
          d.guest !== undefined ? (desired.guests[d.guest]?.pinned.length ?? 0) : d.pinned.length;
        const retained =
          policy?.schedule !== undefined
            ? worstCaseRetained(
                policy.retention,
                { cron: policy.schedule, timezone: policy.timezone },
                pinned,
              )
            : pinned;
        const layer = s.kind === 'lvm' ? Math.ceil(fully(d.size) / extent) * extent : fully(d.size);
        return { retained, layerBytes: layer };
      }),
    );
    return { storage: s.name, bytes, measured };
  });
}
