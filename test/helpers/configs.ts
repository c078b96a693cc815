/** The lvchain configs the directory-storage tests write: one storage `lab` at ./store. */

/** `snapshots:` for pinned snapshot names; nothing when there are none. */
export function pinned(names: readonly string[]): { snapshots?: Record<string, object> } {
  return names.length > 0 ? { snapshots: Object.fromEntries(names.map((s) => [s, {}])) } : {};
}

/** One guest whose disks share a size, with its pinned snapshots and, if running, its `vm:`. */
export function guestConfig(o: {
  guest: string;
  disks: readonly string[];
  size: string;
  snapshots?: readonly string[];
  vm?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    version: 1,
    directories: { lab: { path: './store' } },
    guests: {
      [o.guest]: {
        storage: 'lab',
        disks: Object.fromEntries(o.disks.map((d) => [d, { size: o.size }])),
        ...pinned(o.snapshots ?? []),
        ...(o.vm ? { vm: o.vm } : {}),
      },
    },
  };
}

/** One standalone disk, with its pinned snapshots, policy and `vm:` when given. */
export function diskConfig(o: {
  disk: string;
  size: string;
  snapshots?: readonly string[];
  policy?: string;
  vm?: Record<string, unknown>;
  policies?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    version: 1,
    directories: { lab: { path: './store' } },
    ...(o.policies ? { policies: o.policies } : {}),
    disks: {
      [o.disk]: {
        storage: 'lab',
        size: o.size,
        ...pinned(o.snapshots ?? []),
        ...(o.policy !== undefined ? { policy: o.policy } : {}),
        ...(o.vm ? { vm: o.vm } : {}),
      },
    },
  };
}

/**
 * The hooks tests' config body: guest `db` on `storage`, under an hourly policy `db` whose
 * hooks are `pre` and `post --thaw`.
 */
export function hookedGuest(o: {
  storage: string;
  disks: readonly string[];
  size: string;
  pre: string;
  post: string;
  timeout: string;
}): Record<string, unknown> {
  return {
    policies: {
      db: {
        timezone: 'UTC',
        schedule: '0 * * * *',
        retention: { last: 5 },
        hooks: { preSnapshot: [o.pre], postSnapshot: [o.post, '--thaw'], timeout: o.timeout },
      },
    },
    guests: {
      db: {
        storage: o.storage,
        policy: 'db',
        disks: Object.fromEntries(o.disks.map((d) => [d, { size: o.size }])),
      },
    },
  };
}
