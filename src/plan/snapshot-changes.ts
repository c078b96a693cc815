/** Phase B of a group: its new snapshots, all disks under one name and one time. */
import { groupSnapshotId } from '../model/address.js';
import type { Operation, PlannedHooks } from '../model/plan.js';
import type { DiskState } from './state.js';
import { layerAt } from './state.js';
import { autoSnapshotName, isDue } from '../policy/schedule.js';
import { groupStream } from './deletions.js';
import { topMetaOf } from './disk-changes.js';
import type { StoragePlanner } from './storage-planner.js';
import type { Group } from './group.js';

interface NewSnapshot {
  name: string;
  kind: 'auto' | 'pinned';
}

export function planSnapshots(
  sp: StoragePlanner,
  group: Group,
  states: Map<string, DiskState>,
  blocked: readonly string[],
  nowIso: string,
): void {
  if (blocked.length > 0) {
    if (group.disks.length > 1)
      sp.diagnostics.push({
        severity: 'warning',
        summary: `${group.id}: no snapshots are taken while ${blocked.join(', ')} ${blocked.length > 1 ? 'are' : 'is'} left alone, so the guest's disks stay consistent`,
        address: group.id,
      });
    return;
  }
  const policyName = group.policy?.name;
  for (const ns of dueSnapshots(sp, group, states)) {
    const op: Operation = {
      op: 'snapshot',
      snap: ns.name,
      kind: ns.kind,
      created: nowIso,
      ...(ns.kind === 'auto' && policyName ? { policy: policyName } : {}),
    };
    for (const disk of group.disks) {
      const state = states.get(disk.name) as DiskState;
      if (layerAt(state, { role: 'snapshot', snap: ns.name })) continue;
      const ctx = sp.ctx(disk.name, topMetaOf(disk), policyName);
      const next = sp.plan(
        state,
        op,
        {
          ...(group.disks.length > 1 ? { group: groupSnapshotId(group.id, ns.name) } : {}),
          ...(ns.kind === 'auto'
            ? {
                why: {
                  reason: 'schedule_due',
                  detail: `schedule "${group.policy?.schedule}" in ${group.policy?.timezone} is due`,
                },
              }
            : {}),
          ...(policyName !== undefined ? { policy: policyName } : {}),
          ...hooksFor(sp, group, ns.name),
        },
        ctx,
        disk.size,
      );
      if (next) states.set(disk.name, next);
    }
  }
}

/** Declared pins the disks lack, then the policy's snapshot if its schedule is due. */
function dueSnapshots(sp: StoragePlanner, group: Group, states: Map<string, DiskState>): NewSnapshot[] {
  const { req } = sp;
  const out: NewSnapshot[] = [];
  if (sp.allowed.pins) {
    for (const snap of group.pinned) {
      if ([...states.values()].some((s) => !layerAt(s, { role: 'snapshot', snap })))
        out.push({ name: snap, kind: 'pinned' });
    }
  }
  const policy = group.policy;
  if (policy?.schedule === undefined || !sp.allowed.schedules) return out;
  const spec = { cron: policy.schedule, timezone: policy.timezone };
  const stream = groupStream(states, policy);
  // Only this policy's own complete snapshots satisfy its schedule; a pinned one does not.
  const due = isDue(
    spec,
    req.now,
    stream.filter((s) => s.complete && s.kind === 'auto').map((s) => s.created),
  );
  if (!due.due) return out;
  const name = autoSnapshotName(req.now);
  if ([...states.values()].some((s) => layerAt(s, { role: 'snapshot', snap: name }))) {
    sp.diagnostics.push({
      severity: 'warning',
      summary: `${group.id}: a snapshot named ${name} already exists; the due snapshot is skipped`,
      address: group.id,
    });
  } else out.push({ name, kind: 'auto' });
  return out;
}

/** The policy's hooks for one snapshot of the group, with what they are told about it. */
function hooksFor(sp: StoragePlanner, group: Group, snap: string): { hooks?: PlannedHooks } {
  const h = group.policy?.hooks;
  if (!h) return {};
  return {
    hooks: {
      ...(h.pre ? { pre: h.pre } : {}),
      ...(h.post ? { post: h.post } : {}),
      timeout_ms: h.timeoutMs,
      env: {
        LVCHAIN_GUEST: group.guest ?? '',
        LVCHAIN_DISKS: group.disks.map((d) => d.name).join(' '),
        LVCHAIN_SNAPSHOT: snap,
        LVCHAIN_STORAGE: sp.storage.name,
        LVCHAIN_POLICY: group.policy?.name ?? '',
      },
    },
  };
}
