/**
 * What the crash scenarios declare and what every layer must read: the config as data
 * (`Decl`), and the expected view of each layer (`Model`, built from the writes with
 * ExpectedDisk, independently of lvchain).
 */
import { ExpectedDisk } from '../helpers/data.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface Decl {
  disks?: Record<string, { sizeMiB: number; snapshots?: string[] }>;
  guests?: Record<string, { disks: Record<string, { sizeMiB: number }>; snapshots?: string[] }>;
}

export interface DiskModel {
  sizeMiB: number;
  top: ExpectedDisk;
  /** Snapshot name → its view, oldest first. */
  snaps: Map<string, ExpectedDisk>;
}

/** Disk → the expected view of each of its layers. */
export type Model = Map<string, DiskModel>;

/** The disks a declaration names, with their size and snapshots. */
export function declaredDisks(decl: Decl): Map<string, { sizeMiB: number; snapshots: string[] }> {
  const out = new Map<string, { sizeMiB: number; snapshots: string[] }>();
  for (const [name, d] of Object.entries(decl.disks ?? {}))
    out.set(name, { sizeMiB: d.sizeMiB, snapshots: d.snapshots ?? [] });
  for (const g of Object.values(decl.guests ?? {}))
    for (const [name, d] of Object.entries(g.disks))
      out.set(name, { sizeMiB: d.sizeMiB, snapshots: g.snapshots ?? [] });
  return out;
}

/** The config body (`disks:` and `guests:`) for a storage. */
export function configBody(decl: Decl, storage: string): Record<string, unknown> {
  const snaps = (s: string[] | undefined) =>
    s && s.length > 0 ? { snapshots: Object.fromEntries(s.map((n) => [n, {}])) } : {};
  const body: Record<string, unknown> = {};
  if (decl.disks && Object.keys(decl.disks).length > 0)
    body.disks = Object.fromEntries(
      Object.entries(decl.disks).map(([n, d]) => [
        n,
        { storage, size: `${d.sizeMiB}MiB`, ...snaps(d.snapshots) },
      ]),
    );
  if (decl.guests && Object.keys(decl.guests).length > 0)
    body.guests = Object.fromEntries(
      Object.entries(decl.guests).map(([n, g]) => [
        n,
        {
          storage,
          disks: Object.fromEntries(
            Object.entries(g.disks).map(([d, s]) => [d, { size: `${s.sizeMiB}MiB` }]),
          ),
          ...snaps(g.snapshots),
        },
      ]),
    );
  return body;
}

export function cloneModel(m: Model): Model {
  return new Map(
    [...m].map(([d, x]) => [
      d,
      {
        sizeMiB: x.sizeMiB,
        top: x.top.clone(),
        snaps: new Map([...x.snaps].map(([s, e]) => [s, e.clone()])),
      },
    ]),
  );
}

/**
 * What applying `decl` does to the views: new disks read zeros, a grown disk reads zeros past
 * its old end, and a new snapshot reads what the top read. (Deletions are per scenario.)
 */
export function declare(m: Model, decl: Decl): Model {
  const out = cloneModel(m);
  for (const [name, d] of declaredDisks(decl)) {
    let disk = out.get(name);
    if (!disk) {
      disk = { sizeMiB: d.sizeMiB, top: new ExpectedDisk(d.sizeMiB * MiB), snaps: new Map() };
      out.set(name, disk);
    }
    if (d.sizeMiB > disk.sizeMiB) {
      disk.top.grow(d.sizeMiB * MiB);
      disk.sizeMiB = d.sizeMiB;
    }
    for (const s of d.snapshots) if (!disk.snaps.has(s)) disk.snaps.set(s, disk.top.clone());
  }
  return out;
}

/** Layer key → digest of its view: `<disk>:top`, `<disk>:<snapshot>`. */
export function expectedViews(m: Model, algorithm: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [d, x] of m) {
    out.set(`${d}:top`, x.top.digest(algorithm));
    for (const [s, e] of x.snaps) out.set(`${d}:${s}`, e.digest(algorithm));
  }
  return out;
}

/** Differences between expected and actual views, as sentences; empty when they agree. */
export function compareViews(
  expected: ReadonlyMap<string, string>,
  actual: ReadonlyMap<string, string>,
): { lost: string[]; extra: string[] } {
  const lost: string[] = [];
  const extra: string[] = [];
  for (const [k, v] of expected) {
    const got = actual.get(k);
    if (got === undefined) lost.push(`${k} is missing`);
    else if (got !== v)
      lost.push(`${k} reads different data (${got.slice(0, 12)}, expected ${v.slice(0, 12)})`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) extra.push(`${k} should not exist`);
  return { lost, extra };
}
