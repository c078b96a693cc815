/** What is on a directory storage, by lstat: links are reported as links, never followed. */
import type { BigIntStats, Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isoSeconds } from '../../base/instants.js';

export async function nearestExisting(path: string): Promise<string> {
  let p = path;
  for (;;) {
    if (await exists(p)) return p;
    const parent = dirname(p);
    if (parent === p) return p;
    p = parent;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function listDirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(path, e.name));
  } catch {
    return [];
  }
}

export type EntryKind =
  'file' | 'directory' | 'symbolic link' | 'FIFO' | 'character device' | 'block device' | 'socket';

export interface Entry {
  name: string;
  kind: EntryKind;
  bytes: number;
  born: string;
  modified: string;
  /**
   * Inode, size and change time to the nanosecond: the same only while the file is unchanged
   * (a write, a rename, a truncation all move the change time). Undefined where the file system
   * keeps change times to the second, as a whole-second time suggests: two writes within one
   * second could not be told apart.
   */
  identity?: string;
}

function kindOfStats(st: Stats | BigIntStats): EntryKind {
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'socket';
}

/** What is at a path, the path itself and not what a link names; undefined if nothing is. */
export async function kindOf(path: string): Promise<EntryKind | undefined> {
  try {
    return kindOfStats(await lstat(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function notRegular(path: string, kind: EntryKind): string {
  const what =
    kind === 'directory'
      ? 'a directory, not a regular file'
      : `a ${kind}, not a ${kind === 'symbolic link' ? 'real file or directory' : 'regular file'}`;
  return `${path} is ${what}; lvchain does not follow links or open special files on a storage`;
}

/** See Entry.identity. */
export function identityOf(st: BigIntStats): string | undefined {
  if (st.ctimeNs % 1_000_000_000n === 0n) return undefined;
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`;
}

/** The identity of what is at `path` now (not following a link), or undefined. */
export async function identityAt(path: string): Promise<string | undefined> {
  const st = await lstat(path, { bigint: true }).catch(() => undefined);
  return st ? identityOf(st) : undefined;
}

/** Every entry of a directory, by lstat: links are reported as links, never followed. */
export async function listEntries(dir: string): Promise<Entry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const name of names.sort((a, b) => a.localeCompare(b))) {
    const st = await lstat(join(dir, name), { bigint: true }).catch(() => undefined);
    if (!st) continue;
    // Birth time where the filesystem records it, else the last change of the inode.
    const born = st.birthtimeMs > 0n ? st.birthtimeMs : st.ctimeMs;
    const identity = identityOf(st);
    out.push({
      name,
      kind: kindOfStats(st),
      bytes: st.isFile() ? Number(st.blocks) * 512 : 0,
      born: isoSeconds(Number(born)),
      modified: isoSeconds(Number(st.mtimeMs)),
      ...(identity !== undefined ? { identity } : {}),
    });
  }
  return out;
}
