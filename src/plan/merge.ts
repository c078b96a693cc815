/**
 * Merge direction by bytes (DESIGN §6): commit the child into the snapshot, or stream the
 * snapshot into the child, whichever copies less. Both figures are kept for the plan.
 */
import type { MergeDirection } from '../model/intent.js';
import type { DiskState } from './state.js';
import { layerAt, streamWindowOf, type Sizing } from './state.js';
import { snapRef, sameRef } from '../model/layer.js';
import { commitCost, liveCommitCost, streamCost } from '../model/extents.js';
import { liveMergeBlocker, type LiveContext } from './live.js';
import { proxmoxDirection } from './op-proxmox.js';

export type DirectionOverride = 'auto' | MergeDirection;

export interface MergeChoice {
  direction: MergeDirection;
  commitBytes: number | null;
  streamBytes: number | null;
  because: 'cheaper' | 'tie' | 'forced' | 'no_estimate' | 'live_engine' | 'proxmox';
  /**
   * When the chosen direction's figure is unknown: the most it can copy, the virtual size of the
   * layer whose data moves (the child for a commit, the snapshot for a stream).
   */
  atMostBytes?: number;
}

/**
 * `live`: the disk's VM runs, and the live engine merges. Its commit below the top writes zero
 * clusters as data (reference §2.3), so that is what the commit figure counts; a direction this
 * QEMU cannot do is not chosen.
 */
export function chooseMerge(
  state: DiskState,
  snap: string,
  override: DirectionOverride,
  sizing: Pick<Sizing, 'streamWindowBytes'>,
  live?: LiveContext,
  /** Proxmox merges the disk (its VM's qm): its direction, whatever the override. */
  proxmox = false,
): MergeChoice {
  const S = snapRef(snap);
  const layerS = layerAt(state, S);
  const child = Object.values(state.layers).find(
    (l) => l.ref.role !== 'trash' && l.backing && sameRef(l.backing, S),
  );
  const commitBytes = child?.extents
    ? live && child.ref.role !== 'top'
      ? liveCommitCost(child.extents)
      : commitCost(child.extents)
    : null;
  const window = streamWindowOf(sizing, child?.virtualSize);
  const streamBytes =
    layerS?.extents && child?.extents ? streamCost(layerS.extents, child.extents, window) : null;
  const bound = (direction: MergeDirection) => {
    const known = direction === 'commit' ? commitBytes : streamBytes;
    const moved = (direction === 'commit' ? child : layerS)?.virtualSize;
    return known === null && moved !== undefined ? { atMostBytes: moved } : {};
  };
  if (proxmox) {
    const direction = proxmoxDirection(state, snap);
    return { direction, commitBytes, streamBytes, because: 'proxmox', ...bound(direction) };
  }
  if (override !== 'auto')
    return { direction: override, commitBytes, streamBytes, because: 'forced', ...bound(override) };
  if (live) {
    const commitBlocked = liveMergeBlocker(state, snap, 'commit', live) !== undefined;
    const streamBlocked = liveMergeBlocker(state, snap, 'stream', live) !== undefined;
    if (commitBlocked !== streamBlocked)
      return {
        direction: commitBlocked ? 'stream' : 'commit',
        commitBytes,
        streamBytes,
        because: 'live_engine',
      };
  }
  if (commitBytes === null || streamBytes === null) {
    // Without figures, do what Proxmox does: the oldest snapshot is committed (streaming it
    // copies all its data), a snapshot with a parent is streamed.
    const direction = proxmoxDirection(state, snap);
    return { direction, commitBytes, streamBytes, because: 'no_estimate', ...bound(direction) };
  }
  // A tie streams: the child keeps its name and no layer is renamed.
  if (commitBytes < streamBytes) return { direction: 'commit', commitBytes, streamBytes, because: 'cheaper' };
  return {
    direction: 'stream',
    commitBytes,
    streamBytes,
    because: commitBytes === streamBytes ? 'tie' : 'cheaper',
  };
}
