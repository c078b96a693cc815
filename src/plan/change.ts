/**
 * One builder for every change: the operation says what happens, and the change's type,
 * address, actions, `after` and reason detail are derived from it, so they cannot disagree.
 */
import type {
  Action,
  ActionReason,
  PlannedHooks,
  PlannedOperation,
  RederiveOperation,
} from '../model/plan.js';
import type { Intent } from '../model/intent.js';
import type { LayerMeta } from '../model/meta.js';
import { describeIntent, encodeIntent } from '../model/intent.js';
import { diskAddress, snapshotAddress, vgAddress } from '../model/address.js';
import type { ChangeSpec } from './draft.js';

export interface Why {
  reason: ActionReason;
  detail: string;
}

/** What a change states beyond its operation. */
export interface ChangeFacts {
  topMeta: LayerMeta;
  before?: Record<string, unknown> | null;
  /** Fields of `after` the operation does not hold, such as a created disk's protect flag. */
  after?: Record<string, unknown>;
  /** Required where the operation does not tell why: deletions and scheduled snapshots. */
  why?: Why;
  group?: string;
  policy?: string;
  hooks?: PlannedHooks;
}

interface Derived {
  type: ChangeSpec['type'];
  address: string;
  name: string;
  actions: Action[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  why?: Why;
  irreversible: boolean;
}

const intentActions: Record<Intent['op'], Action[]> = {
  create: ['create'],
  grow: ['update'],
  snapshot: ['create'],
  delete: ['delete'],
  rollback: ['delete', 'create'],
  destroy: ['delete'],
};

const onDisk = (disk: string, actions: Action[]): Pick<Derived, 'type' | 'address' | 'name' | 'actions'> => ({
  type: 'lvchain_disk',
  address: diskAddress(disk),
  name: disk,
  actions,
});

const onSnapshot = (
  disk: string,
  snap: string,
  actions: Action[],
): Pick<Derived, 'type' | 'address' | 'name' | 'actions'> => ({
  type: 'lvchain_snapshot',
  address: snapshotAddress(disk, snap),
  name: snap,
  actions,
});

/** `on` is the disk the change is on, or the storage a volume group is created for. */
function derive(op: PlannedOperation | RederiveOperation, on: string): Derived {
  const plain = { before: null, after: null, irreversible: false };
  switch (op.op) {
    case 'create_vg':
      return {
        ...plain,
        type: 'lvchain_vg',
        address: vgAddress(on),
        name: on,
        actions: ['create'],
        after: { devices: op.devices },
        why: {
          reason: 'vg_declared',
          detail: `declared with pvs: and absent; ${op.devices.join(', ')} ${op.devices.length > 1 ? 'are' : 'is'} blank`,
        },
      };
    case 'create':
      return {
        ...plain,
        ...onDisk(on, ['create']),
        after: { size: op.size },
        why: { reason: 'disk_declared', detail: 'declared in the config and not found on the storage' },
      };
    case 'set_protect':
      return {
        ...plain,
        ...onDisk(on, ['update']),
        after: { protect: op.protect },
        why: { reason: 'protect_changed', detail: 'protect or guest membership changed in the config' },
      };
    case 'grow':
      return {
        ...plain,
        ...onDisk(on, ['update']),
        before: { size: op.from },
        after: { size: op.to },
        why: { reason: 'size_increased', detail: `the declared size grew from ${op.from} to ${op.to} bytes` },
      };
    case 'snapshot':
      return {
        ...plain,
        ...onSnapshot(on, op.snap, ['create']),
        after: {
          name: op.snap,
          kind: op.kind,
          created: op.created,
          ...(op.policy !== undefined ? { policy: op.policy } : {}),
        },
        ...(op.kind === 'pinned'
          ? { why: { reason: 'pinned_declared', detail: 'declared as a pinned snapshot in the config' } }
          : {}),
      };
    case 'delete':
      return { ...plain, ...onSnapshot(on, op.snap, ['delete']) };
    case 'destroy':
      return {
        ...plain,
        ...onDisk(on, ['delete']),
        irreversible: true,
        why: {
          reason: 'destroy_requested',
          detail: 'not declared in the config, and --allow-destroy was given',
        },
      };
    case 'rollback':
      return {
        ...onDisk(on, ['delete', 'create']),
        before: { top: 'current data', newer_snapshots: op.discard },
        after: { top: `empty overlay on ${op.snap}` },
        irreversible: true,
        why: {
          reason: 'rollback_requested',
          detail:
            op.discard.length > 0
              ? `roll back to ${op.snap}, discarding the current top and the newer snapshots ${op.discard.join(', ')}`
              : `roll back to ${op.snap}, discarding what the top holds since it`,
        },
      };
    case 'resume': {
      const intent = op.intent;
      const actions = intentActions[intent.op];
      return {
        ...plain,
        ...(intent.op === 'snapshot' || intent.op === 'delete'
          ? onSnapshot(on, intent.snap, actions)
          : onDisk(on, actions)),
        irreversible: intent.op === 'rollback' || intent.op === 'destroy',
        why: {
          reason: 'resume_interrupted',
          detail: `finish the interrupted ${describeIntent(intent)} (intent ${encodeIntent(intent)})`,
        },
      };
    }
    case 'cleanup':
      return {
        ...plain,
        ...onDisk(on, ['update']),
        why: {
          reason: 'resume_interrupted',
          detail: 'remove layers left renamed aside by an interrupted merge (their data was merged)',
        },
      };
    case 'rederive':
      return {
        ...plain,
        ...onDisk(on, ['update']),
        why: {
          reason: 'proxmox_changed',
          detail: `${op.found.join('; ')}; metadata re-derived from layer names and links`,
        },
      };
  }
}

export function draftChange(
  op: PlannedOperation | RederiveOperation,
  on: string,
  facts: ChangeFacts,
): ChangeSpec {
  const d = derive(op, on);
  const why = facts.why ?? d.why;
  if (why === undefined) throw new Error(`internal: a ${op.op} change needs a reason`);
  return {
    address: d.address,
    type: d.type,
    name: d.name,
    ...(facts.group !== undefined ? { group: facts.group } : {}),
    actions: d.actions,
    before: facts.before !== undefined ? facts.before : d.before,
    after: d.after && facts.after ? { ...d.after, ...facts.after } : d.after,
    reason: why.reason,
    reasonDetail: why.detail,
    irreversible: d.irreversible,
    operation: op,
    topMeta: facts.topMeta,
    ...(facts.policy !== undefined ? { policy: facts.policy } : {}),
    ...(facts.hooks !== undefined ? { hooks: facts.hooks } : {}),
  };
}

/** The address a change of `op` on `disk` gets. */
export function addressOf(op: PlannedOperation, disk: string): string {
  return derive(op, disk).address;
}
