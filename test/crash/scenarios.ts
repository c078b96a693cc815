/**
 * The operations the crash harness kills, for every backend: create, grow, snapshot (one disk and a
 * two-disk guest), delete the first, a middle and the last snapshot in both merge directions,
 * rollback with and without --discard-newer, destroy; and the same six deletions on a chain
 * with enough data that qemu-img reports progress, for kills in the middle of the data move.
 */
import type { Decl, Model } from './model.js';
import { KiB, MiB, cloneModel, declare } from './model.js';

/** Builds a fixture through the real CLI: declare → apply, and guest-style writes. */
export interface FixtureBuilder {
  declare(decl: Decl): Promise<void>;
  write(disk: string, offset: number, length: number, pattern: number): Promise<void>;
  zero(disk: string, offset: number, length: number): Promise<void>;
}

export interface Fixture {
  id: string;
  /** The PV (or directory) space it needs, for sizing the lab disks. */
  build(b: FixtureBuilder): Promise<void>;
}

export interface Scenario {
  id: string;
  operation: string;
  fixture: Fixture;
  /** The config the operation runs with, and the recovery too. */
  decl(before: Decl): Decl;
  /** The command (after `-c <config>`), without --json and --auto-approve. */
  command: string[];
  /** Flags that plan and apply take again after the kill. */
  flags: string[];
  /** An imperative command (rollback): if it was killed before it recorded anything, it is run again. */
  imperative: boolean;
  /** The views after the operation. */
  after(before: Model): Model;
  /** Step boundaries, or the middle of the data move. */
  kills: 'boundaries' | 'data-move';
}

// ---------------------------------------------------------------- fixtures

const EMPTY: Fixture = { id: 'empty', build: async () => undefined };

const ONE_DISK = 'vm-201-disk-0';
/** One 16 MiB disk with one snapshot, data in both layers and a zeroed range. */
const ONE: Fixture = {
  id: 'one-disk',
  build: async (b) => {
    await b.declare({ disks: { [ONE_DISK]: { sizeMiB: 16 } } });
    await b.write(ONE_DISK, 0, 1 * MiB, 0x11);
    await b.write(ONE_DISK, 5 * MiB, 1 * MiB, 0x11);
    await b.declare({ disks: { [ONE_DISK]: { sizeMiB: 16, snapshots: ['s1'] } } });
    await b.write(ONE_DISK, 512 * KiB, 1536 * KiB, 0x22);
    await b.zero(ONE_DISK, 5 * MiB, 128 * KiB);
    await b.write(ONE_DISK, 12 * MiB, 1 * MiB, 0x22);
  },
};

const CHAIN_DISK = 'vm-202-disk-0';
/** s1, s2, s3 and the top, each holding overlapping writes (and a zeroed range). */
const CHAIN: Fixture = {
  id: 'chain',
  build: async (b) => {
    const snaps: string[] = [];
    const decl = () => ({ disks: { [CHAIN_DISK]: { sizeMiB: 16, snapshots: [...snaps] } } });
    await b.declare(decl());
    await b.write(CHAIN_DISK, 0, 1 * MiB, 0x11);
    await b.write(CHAIN_DISK, 5 * MiB, 1 * MiB, 0x11);
    snaps.push('s1');
    await b.declare(decl());
    await b.write(CHAIN_DISK, 512 * KiB, 1536 * KiB, 0x22);
    await b.write(CHAIN_DISK, 8 * MiB, 1 * MiB, 0x22);
    snaps.push('s2');
    await b.declare(decl());
    await b.write(CHAIN_DISK, 1 * MiB, 64 * KiB, 0x33);
    await b.write(CHAIN_DISK, 12 * MiB, 1 * MiB, 0x33);
    await b.zero(CHAIN_DISK, 5 * MiB, 128 * KiB);
    snaps.push('s3');
    await b.declare(decl());
    await b.write(CHAIN_DISK, 3 * MiB, 1 * MiB, 0x44);
    await b.write(CHAIN_DISK, 0, 64 * KiB, 0x44);
  },
};

const GUEST = 'g203';
const GUEST_DISKS = ['vm-203-disk-0', 'vm-203-disk-1'];
/** A guest of two disks with one guest snapshot and different data on each disk. */
const GUEST_FIXTURE: Fixture = {
  id: 'guest',
  build: async (b) => {
    const decl = (snapshots: string[]): Decl => ({
      guests: {
        [GUEST]: { disks: Object.fromEntries(GUEST_DISKS.map((d) => [d, { sizeMiB: 16 }])), snapshots },
      },
    });
    await b.declare(decl([]));
    for (const [i, d] of GUEST_DISKS.entries()) await b.write(d, i * MiB, 2 * MiB, 0x50 + i);
    await b.declare(decl(['s1']));
    for (const [i, d] of GUEST_DISKS.entries()) await b.write(d, (8 + i) * MiB, 1 * MiB, 0x60 + i);
  },
};

const BIG_DISK = 'vm-204-disk-0';
/** Own data per layer, disjoint, so that every merge direction copies it (24 MiB). */
export const BIG_LAYER_MIB = 24;
const BIG: Fixture = {
  id: 'big-chain',
  build: async (b) => {
    const size = 4 * BIG_LAYER_MIB;
    const snaps: string[] = [];
    const decl = () => ({ disks: { [BIG_DISK]: { sizeMiB: size, snapshots: [...snaps] } } });
    await b.declare(decl());
    for (const [i, s] of ['s1', 's2', 's3', ''].entries()) {
      await b.write(BIG_DISK, i * BIG_LAYER_MIB * MiB, BIG_LAYER_MIB * MiB, 0x71 + i);
      if (s) {
        snaps.push(s);
        await b.declare(decl());
      }
    }
  },
};

export const FIXTURES: readonly Fixture[] = [EMPTY, ONE, CHAIN, GUEST_FIXTURE, BIG];

// ---------------------------------------------------------------- scenario helpers

function withDisk(
  decl: Decl,
  disk: string,
  change: (d: { sizeMiB: number; snapshots?: string[] }) => void,
): Decl {
  const copy: Decl = JSON.parse(JSON.stringify(decl)) as Decl;
  const d = copy.disks?.[disk];
  if (!d) throw new Error(`fixture has no disk ${disk}`);
  change(d);
  return copy;
}

function dropSnapshot(m: Model, disk: string, snap: string): Model {
  const out = cloneModel(m);
  out.get(disk)?.snaps.delete(snap);
  return out;
}

function deletion(
  position: 'first' | 'middle' | 'last',
  direction: 'commit' | 'stream',
  kills: Scenario['kills'],
): Scenario {
  const snap = { first: 's1', middle: 's2', last: 's3' }[position];
  const disk = kills === 'data-move' ? BIG_DISK : CHAIN_DISK;
  return {
    id: `delete-${position}-${direction}${kills === 'data-move' ? '-data' : ''}`,
    operation: `delete the ${position} snapshot (${direction})`,
    fixture: kills === 'data-move' ? BIG : CHAIN,
    decl: (before) =>
      withDisk(before, disk, (d) => {
        d.snapshots = (d.snapshots ?? []).filter((s) => s !== snap);
      }),
    command: ['apply', '--merge-direction', direction],
    flags: ['--merge-direction', direction],
    imperative: false,
    after: (m) => dropSnapshot(m, disk, snap),
    kills,
  };
}

function rollbackTo(snap: string, discardNewer: boolean): Scenario {
  return {
    id: discardNewer ? 'rollback-discard-newer' : 'rollback',
    operation: discardNewer ? `rollback to ${snap} --discard-newer` : `rollback to the newest snapshot`,
    fixture: CHAIN,
    // The newer snapshots go away with the rollback, so the config no longer declares them.
    decl: (before) =>
      withDisk(before, CHAIN_DISK, (d) => {
        const snaps = d.snapshots ?? [];
        d.snapshots = snaps.slice(0, snaps.indexOf(snap) + 1);
      }),
    command: ['rollback', CHAIN_DISK, snap, ...(discardNewer ? ['--discard-newer'] : [])],
    flags: [],
    imperative: true,
    after: (m) => {
      const out = cloneModel(m);
      const d = out.get(CHAIN_DISK);
      if (!d) throw new Error(`no ${CHAIN_DISK} in the model`);
      const names = [...d.snaps.keys()];
      for (const newer of names.slice(names.indexOf(snap) + 1)) d.snaps.delete(newer);
      d.top = (d.snaps.get(snap) as NonNullable<ReturnType<typeof d.snaps.get>>).clone();
      return out;
    },
    kills: 'boundaries',
  };
}

// ---------------------------------------------------------------- the matrix

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'create',
    operation: 'create disk',
    fixture: EMPTY,
    decl: () => ({ disks: { 'vm-200-disk-0': { sizeMiB: 16 } } }),
    command: ['apply'],
    flags: [],
    imperative: false,
    after: (m) => declare(m, { disks: { 'vm-200-disk-0': { sizeMiB: 16 } } }),
    kills: 'boundaries',
  },
  {
    id: 'grow',
    operation: 'grow disk',
    fixture: ONE,
    decl: (before) => withDisk(before, ONE_DISK, (d) => void (d.sizeMiB = 24)),
    command: ['apply'],
    flags: [],
    imperative: false,
    after: (m) => declare(m, { disks: { [ONE_DISK]: { sizeMiB: 24, snapshots: ['s1'] } } }),
    kills: 'boundaries',
  },
  {
    id: 'snapshot',
    operation: 'snapshot (one disk)',
    fixture: ONE,
    decl: (before) => withDisk(before, ONE_DISK, (d) => void (d.snapshots = ['s1', 's2'])),
    command: ['apply'],
    flags: [],
    imperative: false,
    after: (m) => declare(m, { disks: { [ONE_DISK]: { sizeMiB: 16, snapshots: ['s1', 's2'] } } }),
    kills: 'boundaries',
  },
  {
    id: 'snapshot-guest',
    operation: 'snapshot (guest of two disks)',
    fixture: GUEST_FIXTURE,
    decl: (before) => {
      const copy: Decl = JSON.parse(JSON.stringify(before)) as Decl;
      const g = copy.guests?.[GUEST];
      if (!g) throw new Error(`fixture has no guest ${GUEST}`);
      g.snapshots = ['s1', 's2'];
      return copy;
    },
    command: ['apply'],
    flags: [],
    imperative: false,
    after: (m) =>
      declare(m, {
        guests: {
          [GUEST]: {
            disks: Object.fromEntries(GUEST_DISKS.map((d) => [d, { sizeMiB: 16 }])),
            snapshots: ['s1', 's2'],
          },
        },
      }),
    kills: 'boundaries',
  },
  ...(['first', 'middle', 'last'] as const).flatMap((p) =>
    (['commit', 'stream'] as const).map((dir) => deletion(p, dir, 'boundaries')),
  ),
  rollbackTo('s3', false),
  rollbackTo('s2', true),
  {
    id: 'destroy',
    operation: 'destroy disk',
    fixture: CHAIN,
    decl: () => ({}),
    command: ['apply', '--allow-destroy'],
    flags: ['--allow-destroy'],
    imperative: false,
    after: (m) => {
      const out = cloneModel(m);
      out.delete(CHAIN_DISK);
      return out;
    },
    kills: 'boundaries',
  },
  ...(['first', 'middle', 'last'] as const).flatMap((p) =>
    (['commit', 'stream'] as const).map((dir) => deletion(p, dir, 'data-move')),
  ),
];

/** Every disk a scenario's fixture or operation touches: their layers are checked. */
export function scenarioDisks(s: Scenario, before: Decl): string[] {
  const names = new Set<string>();
  const add = (d: Decl) => {
    for (const n of Object.keys(d.disks ?? {})) names.add(n);
    for (const g of Object.values(d.guests ?? {})) for (const n of Object.keys(g.disks)) names.add(n);
  };
  add(before);
  add(s.decl(before));
  return [...names].sort();
}
