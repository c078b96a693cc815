/** The rules of `lvchain check` on fixture states, without any host. */
import { describe, expect, it } from 'vitest';
import type { Desired, DesiredPolicy, DesiredStorage } from '../../../src/model/desired.js';
import type {
  ObservedDirectory,
  ObservedDisk,
  ObservedLayer,
  ObservedStorage,
  ObservedVolumeGroup,
} from '../../../src/model/observed.js';
import type { LayerMeta } from '../../../src/model/meta.js';
import { snapRef, TOP } from '../../../src/model/layer.js';
import type { CheckResult, HealthReport, StorageObservation } from '../../../src/check/report.js';
import { assessHealth } from '../../../src/check/assess.js';
import { depthStatus } from '../../../src/check/disk.js';
import { EXIT_CODES } from '../../../src/check/status.js';
import { formatDurationRounded as formatDuration } from '../../../src/base/durations.js';

const MiB = 2 ** 20;
const H = 3_600_000;
const T = Date.parse('2026-01-05T10:00:00Z'); // a Monday, on an hourly slot
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

function policy(over: Partial<DesiredPolicy> = {}): DesiredPolicy {
  return {
    name: 'hourly',
    timezone: 'Europe/Berlin',
    schedule: '0 * * * *',
    retention: { last: 3 },
    maxChainDepth: 32,
    maxDeletesPerRun: 20,
    check: { warn: 1.5, crit: 3 },
    ...over,
  };
}

const dirStorage: DesiredStorage = {
  kind: 'dir',
  name: 'lab',
  path: '/srv/lab',
  reserve: { kind: 'bytes', value: 0 },
};

/** A config with one storage: a guest `web` of the given disks, and standalone disks. */
function config(
  o: {
    storage?: DesiredStorage;
    policies?: DesiredPolicy[];
    guest?: { disks: string[]; policy?: string };
    disks?: { name: string; policy?: string }[];
  } = {},
): Desired {
  const storage = o.storage ?? dirStorage;
  const d: Desired = {
    source: '/srv/lvchain.yaml',
    hosts: {},
    storages: { [storage.name]: storage },
    policies: Object.fromEntries((o.policies ?? [policy()]).map((p) => [p.name, p])),
    guests: {},
    disks: {},
  };
  if (o.guest) {
    d.guests['web'] = {
      name: 'web',
      storage: storage.name,
      disks: o.guest.disks,
      pinned: [],
      ...(o.guest.policy ? { policy: o.guest.policy } : {}),
    };
    for (const name of o.guest.disks)
      d.disks[name] = {
        name,
        storage: storage.name,
        size: 8 * MiB,
        protect: false,
        guest: 'web',
        pinned: [],
        ...(o.guest.policy ? { policy: o.guest.policy } : {}),
      };
  }
  for (const x of o.disks ?? [])
    d.disks[x.name] = {
      name: x.name,
      storage: storage.name,
      size: 8 * MiB,
      protect: false,
      pinned: [],
      ...(x.policy ? { policy: x.policy } : {}),
    };
  return d;
}

interface Snap {
  snap: string;
  created: number;
  kind?: 'auto' | 'pinned' | 'external';
  policy?: string;
}

/** A clean chain of `snaps` (oldest first) under a top, as the directory backend reports it. */
function disk(
  name: string,
  snaps: readonly Snap[],
  o: { guest?: string; lvm?: { active: boolean }; topMeta?: Partial<LayerMeta>; missing?: string } = {},
): ObservedDisk {
  const layers: ObservedLayer[] = [];
  let below: string | undefined;
  const fileOf = (snap?: string) =>
    snap === undefined
      ? `${name}.qcow2`
      : o.lvm
        ? `snap_${name}_${snap}.qcow2`
        : `snap-${snap}-${name}.qcow2`;
  const layer = (snap: string | undefined, meta: LayerMeta): ObservedLayer => {
    const l: ObservedLayer = {
      ref: snap === undefined ? TOP : snapRef(snap),
      name: fileOf(snap),
      meta,
      header:
        o.lvm && !o.lvm.active
          ? { state: 'not-read', reason: 'the LV is inactive' }
          : {
              state: 'read',
              header: {
                format: 'qcow2',
                virtualSize: 8 * MiB,
                clusterSize: 131072,
                extendedL2: true,
                dirty: false,
                corrupt: false,
                ...(below !== undefined ? { backingName: fileOf(below), backingFormat: 'qcow2' } : {}),
              },
              backing: below !== undefined ? { kind: 'layer', ref: snapRef(below) } : { kind: 'none' },
            },
      bytes: o.lvm ? 16 * MiB : MiB,
    };
    if (o.lvm) {
      l.capacity = 16 * MiB;
      l.lv = {
        uuid: `uuid-${l.name}`,
        active: o.lvm.active,
        attr: o.lvm.active ? '-wi-a-----' : '-wi-------',
        tags: [],
      };
    }
    return l;
  };
  for (const s of snaps) {
    if (s.snap !== o.missing)
      layers.push(
        layer(s.snap, {
          disk: name,
          snap: s.snap,
          created: iso(s.created),
          kind: s.kind ?? 'auto',
          ...(s.kind === undefined || s.kind === 'auto' ? { policy: s.policy ?? 'hourly' } : {}),
          ...(o.guest ? { guest: o.guest } : {}),
        }),
      );
    below = s.snap;
  }
  layers.push(layer(undefined, { disk: name, ...(o.guest ? { guest: o.guest } : {}), ...o.topMeta }));
  return { name, storage: 'lab', layers };
}

function dir(disks: readonly ObservedDisk[], o: { free?: number; size?: number } = {}): ObservedDirectory {
  return {
    kind: 'dir',
    name: 'lab',
    path: '/srv/lab',
    exists: true,
    free: o.free ?? 100 * 2 ** 30,
    size: o.size ?? 200 * 2 ** 30,
    disks: Object.fromEntries(disks.map((d) => [d.name, d])),
    foreign: [],
    measurements: {},
    errors: [],
  };
}

function vg(disks: readonly ObservedDisk[], o: Partial<ObservedVolumeGroup> = {}): ObservedVolumeGroup {
  return {
    kind: 'lvm',
    name: 'lab',
    exists: true,
    free: 600 * MiB,
    size: 1000 * MiB,
    extentSize: 4 * MiB,
    mdaFree: 500_000,
    mdaSize: 1_044_480,
    lvCount: 4,
    disks: Object.fromEntries(disks.map((d) => [d.name, d])),
    foreign: [],
    measurements: { [8 * MiB]: { required: 400_000, fullyAllocated: 9 * MiB } },
    errors: [],
    ...o,
  };
}

function assess(desired: Desired, observed: ObservedStorage | StorageObservation, now: number): HealthReport {
  const obs: StorageObservation = 'ok' in observed ? observed : { ok: true, observed };
  return assessHealth({ desired, storages: { lab: obs }, now, defaultMaxChainDepth: 32 });
}

function find(
  report: HealthReport,
  check: CheckResult['check'],
  where: Partial<CheckResult> = {},
): CheckResult {
  const r = report.results.find(
    (x) =>
      x.check === check &&
      (where.group === undefined || x.group === where.group) &&
      (where.disk === undefined || x.disk === where.disk),
  );
  if (!r) throw new Error(`no ${check} result in ${JSON.stringify(report.results, null, 1)}`);
  return r;
}

const hourlyGuest = () => config({ guest: { disks: ['vm-401-disk-0', 'vm-401-disk-1'], policy: 'hourly' } });
const guestDisks = (snaps: readonly Snap[]) => [
  disk('vm-401-disk-0', snaps, { guest: 'web' }),
  disk('vm-401-disk-1', snaps, { guest: 'web' }),
];

describe('schedule freshness', () => {
  it('hourly: OK up to 1.5 periods, WARNING past them, CRITICAL past 3 periods', () => {
    const observed = dir(guestDisks([{ snap: 'auto-1', created: T }]));
    const at = (now: number) =>
      find(assess(hourlyGuest(), observed, now), 'schedule', { group: 'guest.web' });
    expect(at(T + 0.5 * H).status).toBe('OK');
    expect(at(T + 1.5 * H).status).toBe('OK');
    expect(at(T + 1.5 * H + 1000).status).toBe('WARNING');
    expect(at(T + 2 * H).status).toBe('WARNING');
    expect(at(T + 3 * H).status).toBe('WARNING');
    expect(at(T + 3 * H + 1000).status).toBe('CRITICAL');
    const late = at(T + 3 * H + 60_000);
    expect(late.message).toMatch(/last snapshot auto-1 taken 3h01m ago, critical after 3h/);
    expect(late.values).toMatchObject({
      policy: 'hourly',
      age_seconds: 3 * 3600 + 60,
      period_seconds: 3600,
      last_snapshot_timestamp_seconds: T / 1000,
      next_due_timestamp_seconds: (T + H) / 1000,
      overdue_seconds: 2 * 3600 + 60,
    });
    expect(EXIT_CODES[assess(hourlyGuest(), observed, T + 3 * H + 60_000).status]).toBe(2);
    expect(EXIT_CODES[assess(hourlyGuest(), observed, T + 0.5 * H).status]).toBe(0);
  });

  it("a policy's check thresholds replace the 1.5 and 3 periods", () => {
    const strict = config({
      policies: [policy({ check: { warn: 1, crit: 2 } })],
      guest: { disks: ['vm-401-disk-0', 'vm-401-disk-1'], policy: 'hourly' },
    });
    const observed = dir(guestDisks([{ snap: 'auto-1', created: T }]));
    const at = (now: number) => find(assess(strict, observed, now), 'schedule', { group: 'guest.web' });
    expect(at(T + 1 * H).status).toBe('OK');
    expect(at(T + 1 * H + 1000).status).toBe('WARNING');
    expect(at(T + 2 * H).status).toBe('WARNING');
    expect(at(T + 2 * H + 60_000)).toMatchObject({
      status: 'CRITICAL',
      message: expect.stringMatching(/taken 2h01m ago, critical after 2h;/),
      values: { warn_after_seconds: 3600, crit_after_seconds: 7200 },
    });
  });

  it('a run that comes late in every slot is not late (age guards the due time)', () => {
    // "0 * * * *" applied at :45 each hour: due from :00, yet snapshots are an hour apart.
    const observed = dir(guestDisks([{ snap: 'auto-1', created: T + 0.75 * H }]));
    const at = (now: number) => find(assess(hourlyGuest(), observed, now), 'schedule').status;
    expect(at(T + 0.75 * H + 1.49 * H)).toBe('OK');
    expect(at(T + 0.75 * H + 1.51 * H)).toBe('WARNING');
  });

  it('an irregular schedule is judged by its own fires (the due time guards age)', () => {
    const weekdays = policy({ name: 'weekdays', schedule: '0 2 * * 1-5' });
    const desired = config({ policies: [weekdays], guest: { disks: ['vm-401-disk-0'], policy: 'weekdays' } });
    const friday = Date.parse('2026-01-09T01:00:00Z'); // 02:00 in Berlin
    const observed = dir([
      disk('vm-401-disk-0', [{ snap: 'auto-fri', created: friday, policy: 'weekdays' }], { guest: 'web' }),
    ]);
    const at = (now: string) => find(assess(desired, observed, Date.parse(now)), 'schedule');
    expect(at('2026-01-11T12:00:00Z').status, 'Sunday: 2.5 days old, nothing due since').toBe('OK');
    expect(at('2026-01-12T12:59:00Z').status, 'Monday, 11 h after its slot').toBe('OK');
    expect(at('2026-01-12T13:01:00Z').status, 'Monday, 12 h after its slot').toBe('WARNING');
    expect(at('2026-01-14T01:00:00Z').status, 'Wednesday, 2 days after Monday').toBe('WARNING');
    expect(at('2026-01-14T01:00:01Z').status).toBe('CRITICAL');
    expect(at('2026-01-14T01:00:01Z').values['period_seconds']).toBe(86_400);
  });

  it('never snapshotted: CRITICAL when the disks exist, WARNING when none does yet', () => {
    const existing = assess(hourlyGuest(), dir(guestDisks([])), T);
    expect(find(existing, 'schedule')).toMatchObject({
      status: 'CRITICAL',
      message: expect.stringMatching(/^never snapshotted/),
    });
    expect(existing.status).toBe('CRITICAL');
    const absent = assess(hourlyGuest(), dir([]), T);
    expect(find(absent, 'schedule')).toMatchObject({
      status: 'WARNING',
      message: expect.stringMatching(/do not exist yet/),
    });
    expect(find(absent, 'chain', { disk: 'vm-401-disk-0' })).toMatchObject({
      status: 'WARNING',
      message: expect.stringMatching(/not created yet/),
    });
    expect(absent.status).toBe('WARNING');
  });

  it("counts only complete auto snapshots of the group's own policy", () => {
    const desired = config({
      policies: [policy(), policy({ name: 'other' })],
      guest: { disks: ['vm-401-disk-0', 'vm-401-disk-1'], policy: 'hourly' },
    });
    const newer = T + 3 * H;
    const shared: Snap[] = [
      { snap: 'auto-old', created: T },
      { snap: 'pinned-new', created: newer, kind: 'pinned' },
      { snap: 'auto-other', created: newer + 1000, policy: 'other' },
    ];
    const observed = dir([
      disk('vm-401-disk-0', [...shared, { snap: 'auto-half', created: newer + 2000 }], { guest: 'web' }),
      disk('vm-401-disk-1', shared, { guest: 'web' }),
    ]);
    const r = find(assess(desired, observed, newer + 60_000), 'schedule');
    expect(r.values['last_snapshot']).toBe('auto-old');
    expect(r.status).toBe('CRITICAL');
    // The same snapshot on both disks makes it complete, and the group fresh.
    const complete = dir(guestDisks([...shared, { snap: 'auto-half', created: newer + 2000 }]));
    expect(find(assess(desired, complete, newer + 60_000), 'schedule')).toMatchObject({
      status: 'OK',
      values: { last_snapshot: 'auto-half' },
    });
  });

  it('snapshots dated in the future do not count, and warn', () => {
    const observed = dir(
      guestDisks([
        { snap: 'auto-1', created: T },
        { snap: 'auto-future', created: T + 10 * H },
      ]),
    );
    const r = find(assess(hourlyGuest(), observed, T + 0.5 * H), 'schedule');
    expect(r).toMatchObject({ status: 'WARNING', values: { last_snapshot: 'auto-1', future_dated: 1 } });
    expect(r.message).toMatch(/dated in the future \(auto-future\)/);
  });

  it('a group without a schedule gets no age check', () => {
    const desired = config({
      policies: [policy({ schedule: undefined })],
      disks: [{ name: 'vm-402-disk-0', policy: 'hourly' }],
    });
    const report = assess(desired, dir([disk('vm-402-disk-0', [])]), T);
    expect(report.results.filter((r) => r.check === 'schedule')).toEqual([]);
    expect(report.status).toBe('OK');
  });
});

describe('chain depth', () => {
  it('WARNING beyond maxChainDepth, CRITICAL beyond twice it', () => {
    expect([31, 32, 33, 64, 65].map((d) => depthStatus(d, 32))).toEqual([
      'OK',
      'OK',
      'WARNING',
      'WARNING',
      'CRITICAL',
    ]);
  });

  it("counts the chain's snapshot layers against the policy's maximum, or the default", () => {
    const snaps: Snap[] = [1, 2, 3].map((i) => ({ snap: `auto-${i}`, created: T - i * H }));
    const tight = config({
      policies: [policy({ maxChainDepth: 2 })],
      disks: [{ name: 'vm-402-disk-0', policy: 'hourly' }, { name: 'vm-403-disk-0' }],
    });
    const report = assess(tight, dir([disk('vm-402-disk-0', snaps), disk('vm-403-disk-0', snaps)]), T);
    expect(find(report, 'depth', { disk: 'vm-402-disk-0' })).toMatchObject({
      status: 'WARNING',
      values: { depth: 3, max_depth: 2 },
    });
    expect(find(report, 'depth', { disk: 'vm-403-disk-0' })).toMatchObject({
      status: 'OK',
      values: { depth: 3, max_depth: 32 },
    });
  });
});

describe('drift and interrupted operations', () => {
  it('a broken chain is CRITICAL drift naming the problem', () => {
    const desired = config({ disks: [{ name: 'vm-402-disk-0' }] });
    const observed = dir([
      disk('vm-402-disk-0', [{ snap: 's1', created: T, kind: 'pinned' }], { missing: 's1' }),
    ]);
    const report = assess(desired, observed, T);
    const chain = find(report, 'chain', { disk: 'vm-402-disk-0' });
    expect(chain.status).toBe('CRITICAL');
    expect(chain.message).toMatch(/^drift: top is backed by snapshot s1, which does not exist/);
    expect(chain.values).toMatchObject({ drift: true, verified: true });
    expect(report.status).toBe('CRITICAL');
  });

  it('a chain without lvchain metadata is drift (import it first)', () => {
    const d = disk('vm-402-disk-0', []);
    for (const l of d.layers) delete l.meta;
    const chain = find(assess(config({ disks: [{ name: 'vm-402-disk-0' }] }), dir([d]), T), 'chain');
    expect(chain).toMatchObject({
      status: 'CRITICAL',
      values: { problems: [expect.stringMatching(/^not_owned: /)] },
    });
  });

  it('an interrupted operation is a WARNING until apply finishes it', () => {
    const d = disk('vm-402-disk-0', [], { topMeta: { intent: { op: 'grow', size: 16 * MiB } } });
    const report = assess(config({ disks: [{ name: 'vm-402-disk-0' }] }), dir([d]), T);
    expect(find(report, 'interrupted')).toMatchObject({
      status: 'WARNING',
      message: expect.stringMatching(/interrupted grow disk to 16777216 bytes; "lvchain apply" finishes it/),
      values: { operations: 1 },
    });
    expect(find(report, 'chain').status).toBe('OK');
    expect(report.status).toBe('WARNING');
  });
});

describe('a run in progress', () => {
  it('an operation under a held lock is in progress, not interrupted', () => {
    const d = disk('vm-402-disk-0', [], { topMeta: { intent: { op: 'grow', size: 16 * MiB } } });
    const observed: ObservedDirectory = {
      ...dir([d]),
      lockHeldBy: { id: 'L1', operation: 'apply', who: 'root@pve1 pid 42', created: '2026-01-05T09:59:00Z' },
    };
    const report = assess(config({ disks: [{ name: 'vm-402-disk-0' }] }), observed, T);
    expect(find(report, 'interrupted')).toMatchObject({
      status: 'OK',
      message: expect.stringMatching(
        /^a grow disk to 16777216 bytes is in progress: an lvchain run holds its lock: apply by root@pve1 pid 42/,
      ),
      values: { in_progress: true },
    });
    expect(find(report, 'storage').values['locked']).toBe(true);
    expect(report.status).toBe('OK');
  });
});

describe('storages', () => {
  it('free space below the reserve is a WARNING', () => {
    const desired = config({ storage: { ...dirStorage, reserve: { kind: 'percent', value: 10 } } });
    const low = find(assess(desired, dir([], { free: 19 * 2 ** 30, size: 200 * 2 ** 30 }), T), 'space');
    expect(low).toMatchObject({
      status: 'WARNING',
      values: { free_bytes: 19 * 2 ** 30, reserve_bytes: 20 * 2 ** 30 },
    });
    expect(find(assess(desired, dir([], { free: 21 * 2 ** 30 }), T), 'space').status).toBe('OK');
  });

  it('a storage that cannot be observed is UNKNOWN, and its disks are not judged', () => {
    const report = assess(
      hourlyGuest(),
      { ok: false, error: 'ssh: connect refused', code: 'host_unreachable' },
      T,
    );
    expect(report.results).toEqual([
      expect.objectContaining({
        check: 'storage',
        status: 'UNKNOWN',
        message: 'could not be checked: ssh: connect refused',
      }),
    ]);
    expect(EXIT_CODES[report.status]).toBe(3);
  });

  it('combines states as CRITICAL > UNKNOWN > WARNING > OK', () => {
    const two = (second: DesiredStorage): Desired => {
      const d = hourlyGuest();
      d.storages[second.name] = second;
      return d;
    };
    const other: DesiredStorage = { ...dirStorage, name: 'other' };
    const down: StorageObservation = { ok: false, error: 'gone', code: 'command_failed' };
    const run = (lab: ObservedStorage, now: number) =>
      assessHealth({
        desired: two(other),
        storages: { lab: { ok: true, observed: lab }, other: down },
        now,
        defaultMaxChainDepth: 32,
      }).status;
    const fresh = dir(guestDisks([{ snap: 'auto-1', created: T }]));
    expect(run(fresh, T + 2 * H), 'UNKNOWN outranks WARNING').toBe('UNKNOWN');
    expect(run(fresh, T + 4 * H), 'CRITICAL outranks UNKNOWN').toBe('CRITICAL');
  });

  it('an absent VG is CRITICAL, unless lvchain creates it from pvs:', () => {
    const absent = vg([], { exists: false });
    const plain: DesiredStorage = {
      kind: 'lvm',
      name: 'lab',
      host: 'pve1',
      pvs: [],
      reserve: { kind: 'percent', value: 5 },
      wipe: 'none',
    };
    expect(find(assess(config({ storage: plain }), absent, T), 'storage')).toMatchObject({
      status: 'CRITICAL',
      message: 'volume group lab does not exist on host pve1',
    });
    const withPvs: DesiredStorage = { ...plain, pvs: ['/dev/vdb'] };
    expect(find(assess(config({ storage: withPvs }), absent, T), 'storage').status).toBe('WARNING');
  });

  it('an LVM metadata area nearly full is a WARNING', () => {
    const lvm: DesiredStorage = {
      kind: 'lvm',
      name: 'lab',
      pvs: [],
      reserve: { kind: 'percent', value: 5 },
      wipe: 'none',
    };
    const at = (mdaFree: number) =>
      find(assess(config({ storage: lvm }), vg([], { mdaFree, lvCount: 1000 }), T), 'metadata');
    expect(at(104_448 + 1).status).toBe('OK');
    expect(at(104_448 - 1)).toMatchObject({
      status: 'WARNING',
      message: expect.stringMatching(/nearly full/),
    });
  });

  it('an inactive LVM chain is OK but not verified, its depth read from tags', () => {
    const lvm: DesiredStorage = {
      kind: 'lvm',
      name: 'lab',
      pvs: [],
      reserve: { kind: 'percent', value: 5 },
      wipe: 'none',
    };
    const desired = config({ storage: lvm, disks: [{ name: 'vm-402-disk-0', policy: 'hourly' }] });
    const snaps: Snap[] = [
      { snap: 'auto-1', created: T - H },
      { snap: 'auto-2', created: T },
    ];
    const report = assess(
      desired,
      vg([disk('vm-402-disk-0', snaps, { lvm: { active: false } })]),
      T + 0.5 * H,
    );
    expect(find(report, 'chain')).toMatchObject({
      status: 'OK',
      values: { verified: false, drift: false },
      message: expect.stringMatching(/not verified: 3 inactive LV\(s\), which check does not activate/),
    });
    expect(find(report, 'depth').values['depth']).toBe(2);
    expect(find(report, 'schedule').status).toBe('OK');
    // Active, the same chain is read and verified (its LV sizes checked against the measurement).
    const active = assess(
      desired,
      vg([disk('vm-402-disk-0', snaps, { lvm: { active: true } })]),
      T + 0.5 * H,
    );
    expect(find(active, 'chain')).toMatchObject({ status: 'OK', values: { verified: true } });
  });
});

it('formats durations for people', () => {
  expect([45_000, 30 * 60_000, 3 * H + 60_000, 3 * H, 50 * H].map(formatDuration)).toEqual([
    '45s',
    '30m',
    '3h01m',
    '3h',
    '2d02h',
  ]);
});
