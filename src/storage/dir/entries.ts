/** What is on a directory storage, by lstat: links are reported as links, never followed. */
import type { Stats } from 'node:fs';
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
}

function kindOfStats(st: Stats): EntryKind {
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
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (!st) continue;
    // Birth time where the filesystem records it, else the last change of the inode.
    const born = st.birthtimeMs > 0 ? st.birthtime : st.ctime;
    out.push({
      name,
      kind: kindOfStats(st),
      bytes: st.isFile() ? st.blocks * 512 : 0,
      born: isoSeconds(born.getTime()),
      modified: isoSeconds(st.mtimeMs),
    });
  }
  return out;
}
