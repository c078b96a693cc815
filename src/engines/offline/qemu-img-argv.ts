/**
 * Every qemu-img command line lvchain runs to create, grow, merge or read a layer, in one place,
 * so the options and cache modes that decide data safety can be read side by side.
 */
import type { StorageKind } from '../engine.js';

/** The options every lvchain image is created with (DESIGN §3). */
export const QCOW2_OPTIONS = 'extended_l2=on,cluster_size=128k,preallocation=metadata';
/** The same options as `qemu-img measure` accepts them, so measured sizes fit. */
export const QCOW2_MEASURE_OPTIONS = 'extended_l2=on,cluster_size=128k';

/** `-t` (and `-T`, the backing's) cache mode of a data move; undefined leaves qemu-img's default. */
interface CacheModes {
  stream: { cache: 'directsync' | 'writethrough'; backingCache?: 'none' };
  commit: { cache?: 'none' };
}

/**
 * The cache mode of each data move, per storage kind: a data-safety choice, so it is stated here
 * once. Two rules make the table:
 * - On block devices (LVM) data moves bypass the host page cache (`-t none`, and `-T none` for
 *   the backing read), so nothing is acknowledged from the page cache (DESIGN §3).
 * - A stream must also write through: qemu-img rebase switches the backing file before it flushes
 *   its cached L2 tables, so a kill in between would lose the streamed data (crash harness,
 *   QEMU 7.2). On LVM that makes `directsync` (none + write-through), on files `writethrough`.
 * A directory commit keeps qemu-img's default (writeback, flushed before qemu-img exits); the
 * crash matrix of test/crash/dir.test.ts converges with it.
 */
export const CACHE_MODES: Readonly<Record<StorageKind, CacheModes>> = {
  lvm: { stream: { cache: 'directsync', backingCache: 'none' }, commit: { cache: 'none' } },
  dir: { stream: { cache: 'writethrough' }, commit: {} },
};

export function createArgv(path: string, virtualSize: number, backingName?: string): string[] {
  const argv = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', QCOW2_OPTIONS];
  if (backingName !== undefined) argv.push('-F', 'qcow2', '-b', backingName);
  argv.push(path, String(virtualSize));
  return argv;
}

export function resizeArgv(path: string, virtualSize: number, preallocation: string): string[] {
  return [
    'qemu-img',
    'resize',
    '-q',
    '-f',
    'qcow2',
    `--preallocation=${preallocation}`,
    path,
    String(virtualSize),
  ];
}

/** Commit `path` into its backing `into` (`-d`: the committed layer is removed by lvchain). */
export function commitArgv(kind: StorageKind, path: string, into: string): string[] {
  const { cache } = CACHE_MODES[kind].commit;
  return ['qemu-img', 'commit', '-p', ...(cache ? ['-t', cache] : []), '-f', 'qcow2', '-d', '-b', into, path];
}

/** Stream the backing's data into `path`, then make `ontoName` (or nothing) its backing. */
export function streamArgv(kind: StorageKind, path: string, ontoName: string | undefined): string[] {
  const { cache, backingCache } = CACHE_MODES[kind].stream;
  return [
    'qemu-img',
    'rebase',
    '-p',
    '-t',
    cache,
    ...(backingCache ? ['-T', backingCache] : []),
    '-f',
    'qcow2',
    ...(ontoName !== undefined ? ['-F', 'qcow2', '-b', ontoName] : ['-b', '']),
    path,
  ];
}

export function measureArgv(virtualSize: number): string[] {
  return [
    'qemu-img',
    'measure',
    '--output=json',
    '-O',
    'qcow2',
    '--size',
    String(virtualSize),
    '-o',
    QCOW2_MEASURE_OPTIONS,
  ];
}

/** `json:` spec opening one layer alone, so its allocation is read without its backing chain. */
export function layerAloneSpec(driver: 'file' | 'host_device', filename: string): string {
  return `json:${JSON.stringify({ driver: 'qcow2', file: { driver, filename }, backing: null })}`;
}

/** The allocation of one layer alone, read while a VM may hold it (`-U`). */
export function mapArgv(driver: 'file' | 'host_device', path: string): string[] {
  return ['qemu-img', 'map', '--output=json', '-U', layerAloneSpec(driver, path)];
}
