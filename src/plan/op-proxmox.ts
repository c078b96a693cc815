/**
 * Snapshot, delete and rollback of a Proxmox VE VM's disk, through Proxmox (DESIGN §13): one
 * `qm` step, then lvchain's metadata on the layers Proxmox left. No intent is recorded: the VM
 * config is Proxmox's record. If a run stops inside qm, Proxmox leaves the VM locked and the
 * disk waits for an admin; if it stops after, the next plan finds a chain Proxmox changed and
 * re-derives the metadata from names, links and the config's `snaptime` (plan/roundtrip.ts).
 */
import type { MergeDirection, SnapshotKind } from '../model/intent.js';
import { TOP, snapRef } from '../model/layer.js';
import type { Step } from '../model/plan.js';
import type { DiskState } from './state.js';
import { childOf, layerAt } from './state.js';
import type { OpContext, OpResult } from './op-steps.js';
import { fail, finishTop, isComplete, ok } from './op-steps.js';
import { snapshotMeta } from './op-snapshot.js';
import { layersAbove } from './op-rollback.js';

export type ProxmoxContext = NonNullable<OpContext['proxmox']>;

/** Proxmox commits the child into the oldest snapshot, and rebases (streams) the child onto any other's parent. */
export function proxmoxDirection(state: DiskState, snap: string): MergeDirection {
  return layerAt(state, snapRef(snap))?.backing === null ? 'commit' : 'stream';
}

function qm(px: ProxmoxContext, qm: Extract<Step, { kind: 'qm' }>['qm']): Step {
  return { kind: 'qm', vmid: px.vmid, node: px.node, qm };
}

export function qmSnapshot(
  state: DiskState,
  snap: string,
  created: string,
  kind: SnapshotKind,
  ctx: OpContext,
  px: ProxmoxContext,
): OpResult {
  const top = layerAt(state, TOP);
  if (!top || !isComplete(top)) return fail('the disk has no finished top to snapshot');
  if (layerAt(state, snapRef(snap))) return fail(`snapshot ${snap} exists`);
  const size = top.virtualSize;
  if (size === undefined) return fail('the virtual size of the top is unknown');
  const description = `lvchain: ${kind === 'auto' && ctx.policy !== undefined ? `policy ${ctx.policy}` : `${kind} snapshot`}, planned for ${created}`;
  return ok([
    qm(px, { action: 'snapshot', snap, description }),
    finishTop(ctx, size),
    {
      kind: 'set_meta',
      layer: snapRef(snap),
      meta: snapshotMeta(state, snap, created, kind, ctx, size),
      purpose: 'finish',
    },
  ]);
}

/**
 * Proxmox's direction, whatever lvchain would choose; `bytes`: what it copies. A commit leaves
 * the snapshot's layer, tags included, under the child's name: the child's metadata is written
 * back onto it.
 */
export function qmDelete(state: DiskState, snap: string, bytes: number, px: ProxmoxContext): OpResult {
  const S = snapRef(snap);
  const layerS = layerAt(state, S);
  if (!layerS) return fail(`snapshot ${snap} does not exist`);
  const child = childOf(state, S);
  if (!child || child.ref.role === 'trash') return fail(`snapshot ${snap} has no child in the chain`);
  const direction = proxmoxDirection(state, snap);
  const steps: Step[] = [qm(px, { action: 'delsnapshot', snap, direction, bytes })];
  if (direction === 'commit')
    steps.push({
      kind: 'set_meta',
      layer: child.ref,
      meta: child.meta ?? { disk: state.disk },
      purpose: 'finish',
    });
  return ok(steps);
}

/** Proxmox rolls back only to the newest snapshot, onto a new top. */
export function qmRollback(state: DiskState, snap: string, ctx: OpContext, px: ProxmoxContext): OpResult {
  const layerS = layerAt(state, snapRef(snap));
  if (!layerS) return fail(`snapshot ${snap} does not exist`);
  const newer = layersAbove(state, snapRef(snap)).filter((l) => l.ref.role === 'snapshot');
  if (newer.length > 0)
    return fail(
      `Proxmox rolls back only to the newest snapshot, and ${newer.map((l) => (l.ref.role === 'snapshot' ? l.ref.snap : '')).join(', ')} ${newer.length > 1 ? 'are' : 'is'} newer; delete ${newer.length > 1 ? 'them' : 'it'} first (qm delsnapshot)`,
    );
  const size = layerS.virtualSize;
  if (size === undefined) return fail(`the virtual size of snapshot ${snap} is unknown`);
  return ok([qm(px, { action: 'rollback', snap }), finishTop(ctx, size)]);
}
