/**
 * Every qemu-img command line lvchain runs to create, grow, merge or read a layer, in one place,
 * so the options and cache modes that decide data safety can be read side by side.
 */
import type { StorageKind } from '../engine.js';

/** The options every lvchain image is created with (DESIGN §3). */
export const QCOW2_OPTIONS = 'extended_l2=on,cluster_size=128k,preallocation=metadata';
/** The same options as `qemu-img measure` accepts them, so measured sizes fit. */
export const QCOW2_MEASURE_OPTIONS = 'extended_l2=on,cluster_size=128k';

/** How each data move runs, and with which `-t` (and `-T`, the backing's) cache mode. */
interface CacheModes {
  stream:
    { form: 'rebase'; cache: 'directsync'; backingCache: 'none' } | { form: 'split'; cache: 'writeback' };
  /** undefined leaves qemu-img's default (writeback, flushed before qemu-img exits). */
  commit: { cache?: 'none' };
}

/**
 * The cache mode of each data move, per storage kind: a data-safety choice, so it is stated here
 * once; docs/architecture.md ("Data moves and their cache modes") has the measured figures
 * (`npm run bench:merge`). The rule: a header may name a new backing only once the data that
 * backing no longer provides is durable in the layer.
 * - qemu-img rebase (QEMU 7.2) writes the new backing into the header before it flushes its cached
 *   L2 tables: a kill in between loses the streamed data (crash harness). A rebase is safe only
 *   when it writes through, at one fdatasync and one L2 table write per 2 MiB request.
 * - LVM: data moves bypass the host page cache (`-t none`, `-T none`), which would only
 *   double-buffer a block device (DESIGN §3); the stream stays a write-through rebase
 *   (`directsync`) until LVM's crash matrix has run with the split form.
 * - Directories: the stream is split (split-stream.ts): qemu-io copy-on-read into the child
 *   through the page cache (writeback) while its backing is unchanged, a `flush` (fdatasync),
 *   then a header-only `qemu-img rebase -u`. The commit keeps qemu-img's default (writeback): it
 *   changes no header, and qemu-img flushes before it exits, before lvchain renames anything.
 */
export const CACHE_MODES: Readonly<Record<StorageKind, CacheModes>> = {
  lvm: { stream: { form: 'rebase', cache: 'directsync', backingCache: 'none' }, commit: { cache: 'none' } },
  dir: { stream: { form: 'split', cache: 'writeback' }, commit: {} },
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

/**
 * Commit `path` into its backing `into` (`-d`: the committed layer is removed by lvchain), at
 * most `rate` bytes per second when the storage sets one.
 */
export function commitArgv(kind: StorageKind, path: string, into: string, rate?: number): string[] {
  const { cache } = CACHE_MODES[kind].commit;
  return [
    'qemu-img',
    'commit',
    '-p',
    ...(cache ? ['-t', cache] : []),
    ...(rate !== undefined ? ['-r', String(rate)] : []),
    '-f',
    'qcow2',
    '-d',
    '-b',
    into,
    path,
  ];
}

/**
 * The commands that stream `from`'s data into `path` and make `ontoName` (or nothing) its backing.
 * The split form's copy reads its ranges from stdin (split-stream.ts), after reading both maps.
 */
export function streamArgvs(
  kind: StorageKind,
  protocol: 'file' | 'host_device',
  paths: { layer: string; from: string },
  ontoName: string | undefined,
): string[][] {
  const mode = CACHE_MODES[kind].stream;
  const backing = ontoName !== undefined ? ['-F', 'qcow2', '-b', ontoName] : ['-b', ''];
  if (mode.form === 'rebase')
    return [
      [
        'qemu-img',
        'rebase',
        '-p',
        '-t',
        mode.cache,
        '-T',
        mode.backingCache,
        '-f',
        'qcow2',
        ...backing,
        paths.layer,
      ],
    ];
  return [
    mapArgv(protocol, paths.from),
    mapArgv(protocol, paths.layer),
    copyOnReadArgv(mode.cache, paths.layer),
    ['qemu-img', 'rebase', '-u', '-f', 'qcow2', ...backing, paths.layer],
  ];
}

/** qemu-io with copy-on-read: every range it reads from the backing chain is written into `path`. */
export function copyOnReadArgv(cache: 'writeback', path: string): string[] {
  return ['qemu-io', '-C', '-t', cache, '-f', 'qcow2', path];
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
