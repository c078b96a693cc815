/** Directory storage roots, checked on this machine: directory storages are always local. */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import type { DesiredStorage } from '../model/desired.js';
import type { WrittenConfig } from './schema.js';
import type { PathIssue } from './path.js';

const PATH_MAX = 4096;
const NAME_MAX = 255;
/** Room below the storage root for `images/<folder>/` and lvchain's longest file name. */
const PATH_HEADROOM = 512;

/** System directories a storage must not be, nor live inside (`/etc/images/…`). */
const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/sbin',
  '/sys',
  '/usr',
];
/** Directories that are fine to hold a storage below, but not to be one. */
const SYSTEM_DIRS = [
  '/',
  '/home',
  '/media',
  '/mnt',
  '/opt',
  '/root',
  '/run',
  '/srv',
  '/tmp',
  '/var',
  '/var/lib',
  '/var/tmp',
];

function statOrUndefined(path: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The path with its existing part's symlinks resolved; the missing rest appended as written. */
function realPathOf(path: string): string {
  let existing = path;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(existing), ...rest);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return path;
      rest.unshift(basename(existing));
      existing = parent;
    }
  }
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a directory';
}

/** What is wrong with a directory storage's root, or undefined. A missing root is fine: apply creates it. */
export function directoryPathProblem(path: string): string | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes > PATH_MAX - 1 - PATH_HEADROOM) {
    return `${path.slice(0, 40)}… is ${bytes} bytes long; lvchain needs up to ${PATH_HEADROOM} more below it and Linux allows ${PATH_MAX - 1}, so use a path of at most ${PATH_MAX - 1 - PATH_HEADROOM} bytes`;
  }
  const longName = path.split(sep).find((part) => Buffer.byteLength(part) > NAME_MAX);
  if (longName !== undefined) {
    return `the name ${JSON.stringify(`${longName.slice(0, 24)}…`)} in ${path.slice(0, 40)}… is ${Buffer.byteLength(longName)} bytes; file systems allow ${NAME_MAX}`;
  }
  // The nearest part that exists must be a directory, and a symlink must lead somewhere.
  let at = path;
  for (;;) {
    const link = statOrUndefined(at, false);
    if (link) {
      const target = statOrUndefined(at, true);
      if (!target) {
        return `${at} is a symlink to ${readLinkOr(at)}, which does not exist${at === path ? '' : ` (in ${path})`}`;
      }
      if (!target.isDirectory()) {
        return at === path
          ? `${path} is ${kindOf(target)}; it must be a directory (or not exist yet)`
          : `${at} is ${kindOf(target)}, so ${path} cannot be a directory`;
      }
      break;
    }
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  const real = realPathOf(path);
  const shown = real === path ? path : `${path} (${real})`;
  const tree = SYSTEM_TREES.find((t) => real === t || real.startsWith(`${t}/`));
  if (tree !== undefined) {
    return `${shown} is in the system directory ${tree}; put the storage on a data file system, e.g. /srv/lvchain or /var/lib/vz`;
  }
  if (SYSTEM_DIRS.includes(real)) {
    return `${shown} is a system directory; use a directory of its own below it, e.g. ${real === '/' ? '/srv/lvchain' : join(real, 'lvchain')}`;
  }
  return undefined;
}

function readLinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return 'a missing target';
  }
}

/** Two directory storages on one path, or one inside the other, would see each other's images. */
export function overlappingDirectories(
  written: WrittenConfig,
  storages: Record<string, DesiredStorage>,
): PathIssue[] {
  const issues: PathIssue[] = [];
  const seen: { name: string; real: string }[] = [];
  for (const name of Object.keys(written.directories ?? {})) {
    const storage = storages[name];
    if (storage?.kind !== 'dir') continue;
    const real = realPathOf(storage.path);
    for (const other of seen) {
      const relation =
        real === other.real
          ? `the same path as directory "${other.name}"`
          : real.startsWith(`${other.real}/`)
            ? `inside directory "${other.name}" (${other.real})`
            : other.real.startsWith(`${real}/`)
              ? `a parent of directory "${other.name}" (${other.real})`
              : undefined;
      if (relation !== undefined) {
        issues.push({
          path: ['directories', name, 'path'],
          message: `${real} is ${relation}; two storages must not share files, so give each its own directory`,
        });
      }
    }
    seen.push({ name, real });
  }
  return issues;
}
