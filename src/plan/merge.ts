/**
 * Merge direction by bytes (DESIGN §6): commit the child into the snapshot, or stream the
 * snapshot into the child, whichever copies less. Both figures are kept for the plan.
 */
import type { MergeDirection } from '../model/intent.js';
import type { DiskState } from './state.js';
import { layerAt } from './state.js';
import { snapRef, sameRef } from '../model/layer.js';
import { commitCost, streamCost } from '../model/extents.js';

export type DirectionOverride = 'auto' | MergeDirection;

export interface MergeChoice {
  direction: MergeDirection;
  commitBytes: number | null;
  streamBytes: number | null;
  because: 'cheaper' | 'tie' | 'forced' | 'no_estimate' | 'running_vm';
}

export function chooseMerge(
  state: DiskState,
  snap: string,
  override: DirectionOverride,
  running = false,
): MergeChoice {
  const S = snapRef(snap);
  const layerS = layerAt(state, S);
  const child = Object.values(state.layers).find(
    (l) => l.ref.role !== 'trash' && l.backing && sameRef(l.backing, S),
  );
  const commitBytes = child?.extents ? commitCost(child.extents) : null;
  const streamBytes = layerS?.extents && child?.extents ? streamCost(layerS.extents, child.extents) : null;
  if (override !== 'auto') return { direction: override, commitBytes, streamBytes, because: 'forced' };
  // A live non-active commit writes zero clusters as data (reference §2.3), which the commit
  // figure does not count yet; streaming is what a running VM gets unless the admin forces one.
  if (running) return { direction: 'stream', commitBytes, streamBytes, because: 'running_vm' };
  if (commitBytes === null || streamBytes === null) {
    // Without figures, do what Proxmox does: the oldest snapshot is committed (streaming it
    // copies all its data), a snapshot with a parent is streamed.
    const oldest = layerS?.backing === null;
    return { direction: oldest ? 'commit' : 'stream', commitBytes, streamBytes, because: 'no_estimate' };
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
