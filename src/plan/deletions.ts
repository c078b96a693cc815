/** Phase C of a group: pins no longer declared and retention, oldest first on each disk. */
import type { DesiredDisk, DesiredPolicy } from '../model/desired.js';
import { groupSnapshotId } from '../model/address.js';
import { snapRef } from '../model/layer.js';
import type { DiskState, SimLayer } from './state.js';
import { chainOf, layerAt, snapshotsOf } from './state.js';
import { chooseMerge, type MergeChoice } from './merge.js';
import { snapshotAddress } from '../model/address.js';
import { formatBytes } from '../base/units.js';
import type { Diagnostic } from '../model/plan.js';
import type { RetentionInput } from '../policy/retention.js';
import { decideRetention } from '../policy/retention.js';
import { mergeWindowAt } from '../policy/merge-window.js';
import type { Why } from './change.js';
import { topMetaOf } from './disk-changes.js';
import type { StoragePlanner } from './storage-planner.js';
import type { Group } from './group.js';
import { savedStateOf } from './proxmox.js';

export function planDeletions(
  sp: StoragePlanner,
  group: Group,
  states: Map<string, DiskState>,
  blocked: readonly string[],
): void {
  const toDelete = new Map<string, Why>();
  if (sp.allowed.pins) {
    const pinned = new Set(group.pinned);
    for (const state of states.values()) {
      for (const l of Object.values(state.layers)) {
        if (l.ref.role === 'snapshot' && l.meta?.kind === 'pinned' && !pinned.has(l.ref.snap)) {
          toDelete.set(l.ref.snap, { reason: 'pinned_removed', detail: 'no longer declared in the config' });
        }
      }
    }
  }
  const policy = group.policy;
  if (policy && sp.allowed.retention && Object.keys(policy.retention).length > 0 && blocked.length === 0) {
    const { req } = sp;
    const result = decideRetention(groupStream(states, policy), policy.retention, {
      timezone: policy.timezone,
      now: req.now,
      maxDeletesPerRun: policy.maxDeletesPerRun,
      ...(req.conservativeRetention ? { conservative: true } : {}),
      ...(req.allowMassDelete ? { allowMassDelete: true } : {}),
    });
    for (const w of result.warnings)
      sp.diagnostics.push({ severity: 'warning', summary: w, address: group.id });
    if (result.status === 'refused') {
      sp.diagnostics.push({
        severity: 'error',
        code: 'retention_refused',
        summary: `retention refused: ${result.refusal.message}`,
        detail: 'Nothing is deleted. Check the policy and the clock; pass --allow-mass-delete to accept it.',
        address: group.id,
      });
    }
    for (const d of result.decisions)
      if (d.action === 'delete')
        toDelete.set(d.id, {
          reason: 'retention_expired',
          detail: `retention expired: kept by no rule of policy ${policy.name}`,
        });
  }
  if (toDelete.size > 0 && policy?.mergeWindow) {
    const at = mergeWindowAt(policy.mergeWindow, sp.req.now, policy.timezone);
    if (!at.open) {
      sp.diagnostics.push({
        severity: 'info',
        code: 'merge_window_closed',
        summary: `${toDelete.size} snapshot deletion(s) wait for the merge window of policy ${policy.name}: ${policy.mergeWindow.text} ${policy.timezone}, and it is ${at.localClock} there (${[...toDelete.keys()].sort().join(', ')})`,
        detail: 'Snapshots are still taken; a run inside the window merges these.',
        address: group.id,
      });
      return;
    }
  }
  // Oldest first, one name at a time across the guest's disks: each name's deletions form one
  // group, which apply prepares as a whole (every disk checked and its intent recorded) before it
  // merges anything, so a disk in use cannot leave the guest's disks with different snapshots.
  const stopped = new Set<string>();
  for (const snap of deletionOrder(states, toDelete)) {
    const why = toDelete.get(snap) as Why;
    const holders = group.disks.filter((d) => {
      const state = states.get(d.name);
      return !stopped.has(d.name) && state !== undefined && layerAt(state, snapRef(snap)) !== undefined;
    });
    const groupId = holders.length > 1 ? groupSnapshotId(group.id, snap) : undefined;
    for (const disk of holders) {
      const next = planDelete(sp, disk, states.get(disk.name) as DiskState, snap, why, policy?.name, groupId);
      if (next) states.set(disk.name, next);
      else stopped.add(disk.name);
    }
  }
}

/** The names to delete, oldest first (chain order within each disk), across a group's disks. */
function deletionOrder(states: Map<string, DiskState>, toDelete: Map<string, Why>): string[] {
  const rank = new Map<string, [number, number]>();
  for (const state of states.values()) {
    const chain = chainOf(state);
    (chain ? snapshotsOf(chain) : []).forEach((l, i) => {
      if (l.ref.role !== 'snapshot' || !toDelete.has(l.ref.snap) || rank.has(l.ref.snap)) return;
      rank.set(l.ref.snap, [Date.parse(l.meta?.created ?? '') || Number.MAX_SAFE_INTEGER, i]);
    });
  }
  return [...rank.entries()]
    .sort(([a, [ta, ia]], [b, [tb, ib]]) => ta - tb || ia - ib || a.localeCompare(b))
    .map(([snap]) => snap);
}

/**
 * The group's snapshot stream for retention: names across its disks, complete where all disks
 * have them. Others' snapshots whose names the policy adopts count as its own.
 */
export function groupStream(
  states: Map<string, DiskState>,
  policy: Pick<DesiredPolicy, 'name' | 'adopt'>,
): RetentionInput[] {
  const adopt = policy.adopt !== undefined ? new RegExp(policy.adopt, 'u') : undefined;
  const byName = new Map<string, { created: number; kind: RetentionInput['kind']; count: number }>();
  for (const state of states.values()) {
    for (const l of Object.values(state.layers)) {
      if (l.ref.role !== 'snapshot' || !l.meta?.created) continue;
      const kind: RetentionInput['kind'] =
        l.meta.kind === 'auto'
          ? l.meta.policy === policy.name
            ? 'auto'
            : 'foreign'
          : l.meta.kind === 'pinned'
            ? 'pinned'
            : l.meta.kind === 'external' && adopt?.test(l.ref.snap)
              ? 'auto'
              : 'foreign';
      const prev = byName.get(l.ref.snap);
      byName.set(l.ref.snap, { created: Date.parse(l.meta.created), kind, count: (prev?.count ?? 0) + 1 });
    }
  }
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, v]) => ({ id, created: v.created, kind: v.kind, complete: v.count === states.size }));
}

function planDelete(
  sp: StoragePlanner,
  disk: DesiredDisk,
  state: DiskState,
  snap: string,
  why: Why,
  policy: string | undefined,
  group: string | undefined,
): DiskState | undefined {
  const layer = layerAt(state, snapRef(snap)) as SimLayer;
  const ctx = sp.ctx(disk.name, topMetaOf(disk), policy);
  const choice = chooseMerge(
    state,
    snap,
    sp.req.mergeDirection,
    sp.sizing,
    sp.liveOf(state.disk),
    ctx.proxmox !== undefined,
  );
  // A forced direction still shows both figures: read them whenever one is missing.
  if (choice.commitBytes === null || choice.streamBytes === null) sp.needExtentsFor(state, snap);
  const costlier = costlierChoice(choice, snapshotAddress(disk.name, snap));
  if (costlier) sp.diagnostics.push(costlier);
  const vmstate = ctx.proxmox && savedStateOf(sp.observed, disk.name, ctx.proxmox.vmid, snap);
  if (vmstate)
    sp.diagnostics.push({
      severity: 'info',
      summary: `${snapshotAddress(disk.name, snap)} holds VM ${ctx.proxmox?.vmid}'s saved RAM state (${vmstate.volume}${vmstate.bytes !== undefined ? `, ${formatBytes(vmstate.bytes)}` : ''}): Proxmox removes that volume with the snapshot`,
      detail:
        vmstate.bytes !== undefined
          ? `The free space figures count the ${formatBytes(vmstate.bytes)} it frees on ${sp.storage.name}.`
          : `lvchain found no such volume on ${sp.storage.name}, so the free space figures here do not count it.`,
      address: snapshotAddress(disk.name, snap),
    });
  return sp.plan(
    state,
    {
      op: 'delete',
      snap,
      merge: choice.direction === 'commit' ? 'merge_commit' : 'merge_stream',
      commit_bytes: choice.commitBytes,
      stream_bytes: choice.streamBytes,
      chosen_because: choice.because,
      ...(choice.atMostBytes !== undefined ? { at_most_bytes: choice.atMostBytes } : {}),
    },
    {
      ...(group !== undefined ? { group } : {}),
      before: { name: snap, kind: layer.meta?.kind ?? null, created: layer.meta?.created ?? null },
      why,
      ...(policy !== undefined ? { policy } : {}),
    },
    ctx,
  );
}

/**
 * --merge-direction forced, or Proxmox chose, the merge that copies more: say what it costs,
 * beside lvchain's optimum, before it is applied.
 */
function costlierChoice(choice: MergeChoice, address: string): Diagnostic | undefined {
  const { commitBytes, streamBytes } = choice;
  if (choice.because !== 'forced' && choice.because !== 'proxmox') return undefined;
  if (commitBytes === null || streamBytes === null) return undefined;
  const [forced, other] =
    choice.direction === 'commit' ? [commitBytes, streamBytes] : [streamBytes, commitBytes];
  if (forced <= other) return undefined;
  const otherWay = choice.direction === 'commit' ? 'stream' : 'commit';
  const who =
    choice.because === 'forced' ? `--merge-direction ${choice.direction}` : `Proxmox's ${choice.direction}`;
  return {
    severity: 'warning',
    code: 'merge_direction_costlier',
    summary: `${who} copies ${formatBytes(forced)} to merge ${address} away, where ${otherWay} would copy ${formatBytes(other)}`,
    detail:
      choice.because === 'forced'
        ? 'Without --merge-direction, lvchain merges by whichever direction copies fewer bytes.'
        : 'Proxmox commits the child into the oldest snapshot and streams any other into its child; lvchain cannot choose for a VM Proxmox manages.',
    address,
    figures: { forced_bytes: forced, other_bytes: other },
  };
}
