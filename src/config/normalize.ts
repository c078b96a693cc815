/**
 * Written config → Desired (names resolved, bytes, defaults), plus the rules that span
 * objects: unknown references, a disk declared twice, names LVM would reject, time zones,
 * cron expressions, and policies that can outgrow their chain depth.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type {
  Desired,
  DesiredDisk,
  DesiredGuest,
  DesiredHost,
  DesiredPolicy,
  DesiredStorage,
  Reserve,
  RetentionRules,
} from '../model/desired.js';
import type { WrittenConfig, WrittenHost, WrittenPolicy } from './schema.js';
import { parseDuration, parseSize } from '../base/units.js';
import type { PathIssue } from './path.js';
import { closest } from '../base/names.js';
import {
  autoSnapshotName,
  isValidTimeZone,
  validateSchedule,
  worstCaseRetained,
} from '../policy/schedule.js';
import type { LayerRef } from '../model/layer.js';
import { TOP, snapRef, trashRef } from '../model/layer.js';
import {
  diskFolderName,
  layerFileName,
  lvName,
  parseLayerFileName,
  parseLvName,
} from '../model/layer-names.js';

export const DEFAULTS = {
  vgReserve: '5%',
  dirReserve: '0B',
  maxChainDepth: 32,
  maxDeletesPerRun: 20,
} as const;

/**
 * The largest virtual size of a qcow2 image made with QCOW2_OPTIONS: the L1 table holds at
 * most 4Mi entries (QCOW_MAX_L1_SIZE, 32MiB), each mapping one L2 table of 128KiB / 16 B
 * extended entries × 128KiB clusters = 1GiB. Measured: `qemu-img create` accepts 4096T and
 * refuses 4097T with "The image size is too large for file format 'qcow2'".
 */
export const MAX_DISK_SIZE = 4 * 1024 ** 5;

/** LVM's limit on LV names; `snap_<disk>_<snap>.qcow2` must fit. */
const LV_NAME_MAX = 127;
const MIN_DISK_SIZE = 1024 * 1024;

export function normalize(
  written: WrittenConfig,
  configPath: string,
): { desired: Desired; issues: PathIssue[]; warnings: PathIssue[] } {
  const issues: PathIssue[] = [];
  const warnings: PathIssue[] = [];
  const baseDir = dirname(configPath);

  // Null-prototype records: a declared name such as `constructor` is an ordinary entry,
  // and looking up an undeclared one finds nothing instead of Object.prototype's member.
  const hosts: Record<string, DesiredHost> = record();
  for (const [name, h] of Object.entries(written.hosts ?? {})) hosts[name] = { name, ssh: sshTarget(h) };

  const storages: Record<string, DesiredStorage> = record();
  for (const [name, vg] of Object.entries(written.volumeGroups ?? {})) {
    if (vg.host !== undefined && !Object.hasOwn(hosts, vg.host)) {
      issues.push({
        path: ['volumeGroups', name, 'host'],
        message: `unknown host "${vg.host}"${known('hosts', vg.host, Object.keys(hosts))}`,
      });
    }
    storages[name] = {
      kind: 'lvm',
      name,
      host: vg.host,
      pvs: vg.pvs ?? [],
      reserve: reserveOf(vg.reserve ?? DEFAULTS.vgReserve),
      wipe: vg.wipe ?? 'none',
    };
  }
  for (const [name, d] of Object.entries(written.directories ?? {})) {
    if (Object.hasOwn(storages, name)) {
      issues.push({
        path: ['directories'],
        key: name,
        message: `storage "${name}" is declared both as a volume group and as a directory`,
      });
      continue;
    }
    const path = isAbsolute(d.path) ? resolve(d.path) : resolve(baseDir, d.path);
    const problem = directoryPathProblem(path);
    if (problem !== undefined) issues.push({ path: ['directories', name, 'path'], message: problem });
    storages[name] = { kind: 'dir', name, path, reserve: reserveOf(d.reserve ?? DEFAULTS.dirReserve) };
  }

  const policies: Record<string, DesiredPolicy> = record();
  for (const [name, p] of Object.entries(written.policies ?? {})) {
    policies[name] = policyOf(name, p, issues, warnings);
  }

  const disks: Record<string, DesiredDisk> = record();
  const declaredAt = new Map<string, (string | number)[]>();
  const guests: Record<string, DesiredGuest> = record();

  const addDisk = (disk: DesiredDisk, path: (string | number)[], sizeText: string) => {
    const where = path.slice(0, -1);
    const key = path[path.length - 1] as string;
    const first = declaredAt.get(disk.name);
    if (first) {
      issues.push({
        path: where,
        key,
        message: `disk "${disk.name}" is already declared at ${first.join('.')}; a disk belongs to one guest`,
      });
      return;
    }
    declaredAt.set(disk.name, path);
    const size = parseSize(sizeText);
    if (typeof size !== 'number') issues.push({ path: [...path, 'size'], message: size.error });
    else if (size > MAX_DISK_SIZE)
      issues.push({
        path: [...path, 'size'],
        message: `${sizeText} is too large; a qcow2 image with lvchain's 128KiB clusters and extended L2 holds at most 4PiB`,
      });
    else if (size < MIN_DISK_SIZE)
      issues.push({ path: [...path, 'size'], message: `${sizeText} is too small; disks are at least 1MiB` });
    else if (size % 512 !== 0)
      issues.push({ path: [...path, 'size'], message: `${sizeText} is not a multiple of 512 bytes` });
    if (/^(snap[_-]|del-)/.test(disk.name)) {
      issues.push({
        path: where,
        key,
        message: `disk names cannot start with "snap_", "snap-" or "del-": lvchain uses those for layers`,
      });
    }
    disks[disk.name] = { ...disk, size: typeof size === 'number' ? size : 0 };
  };

  const checkRefs = (path: (string | number)[], storage: string, policy: string | undefined) => {
    if (!Object.hasOwn(storages, storage)) {
      issues.push({
        path: [...path, 'storage'],
        message: `unknown storage "${storage}"${known('volumeGroups or directories', storage, Object.keys(storages))}`,
      });
    }
    if (policy !== undefined && !Object.hasOwn(policies, policy)) {
      issues.push({
        path: [...path, 'policy'],
        message: `unknown policy "${policy}"${known('policies', policy, Object.keys(policies))}`,
      });
    }
  };

  const checkPinned = (path: (string | number)[], diskNames: string[], pinned: string[]) => {
    for (const snap of pinned) {
      if (snap.startsWith('auto-')) {
        issues.push({
          path: [...path, 'snapshots'],
          key: snap,
          message: `snapshot names starting with "auto-" are reserved for scheduled snapshots`,
        });
      }
      for (const disk of diskNames) {
        const lv = `snap_${disk}_${snap}.qcow2`;
        if (lv.length > LV_NAME_MAX) {
          issues.push({
            path: [...path, 'snapshots'],
            key: snap,
            message: `the snapshot LV name ${lv} would be ${lv.length} characters; LVM allows ${LV_NAME_MAX}`,
          });
        }
      }
    }
  };

  for (const [gname, g] of Object.entries(written.guests ?? {})) {
    const path = ['guests', gname];
    checkRefs(path, g.storage, g.policy);
    const diskNames = Object.keys(g.disks).sort();
    if (diskNames.length === 0)
      issues.push({ path: [...path, 'disks'], message: 'a guest needs at least one disk' });
    const pinned = Object.keys(g.snapshots ?? {}).sort();
    checkPinned(path, diskNames, pinned);
    guests[gname] = { name: gname, storage: g.storage, policy: g.policy, disks: diskNames, pinned };
    for (const dname of diskNames) {
      const d = g.disks[dname] as { size: string; protect?: boolean };
      addDisk(
        {
          name: dname,
          storage: g.storage,
          size: 0,
          protect: d.protect ?? false,
          guest: gname,
          policy: g.policy,
          pinned,
        },
        [...path, 'disks', dname],
        d.size,
      );
    }
  }
  for (const [dname, d] of Object.entries(written.disks ?? {})) {
    const path = ['disks', dname];
    checkRefs(path, d.storage, d.policy);
    const pinned = Object.keys(d.snapshots ?? {}).sort();
    checkPinned(path, [dname], pinned);
    addDisk(
      { name: dname, storage: d.storage, size: 0, protect: d.protect ?? false, policy: d.policy, pinned },
      path,
      d.size,
    );
  }

  // Pinned snapshots share the chain with the policy's: the depth bound counts both.
  const groups: [(string | number)[], string | undefined, number][] = [
    ...Object.entries(written.guests ?? {}).map(
      ([n, g]): [(string | number)[], string | undefined, number] => [
        ['guests', n],
        g.policy,
        Object.keys(g.snapshots ?? {}).length,
      ],
    ),
    ...Object.entries(written.disks ?? {}).map(
      ([n, d]): [(string | number)[], string | undefined, number] => [
        ['disks', n],
        d.policy,
        Object.keys(d.snapshots ?? {}).length,
      ],
    ),
  ];
  for (const [path, policyName, pinnedCount] of groups) {
    const policy =
      policyName !== undefined && Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
    if (
      !policy?.schedule ||
      pinnedCount === 0 ||
      issues.some((i) => i.path[0] === 'policies' && i.path[1] === policyName)
    )
      continue;
    const worst = worstCaseRetained(
      policy.retention,
      { cron: policy.schedule, timezone: policy.timezone },
      pinnedCount,
    );
    if (worst === 'unbounded' || worst > policy.maxChainDepth) {
      issues.push({
        path: [...path, 'snapshots'],
        message: `with ${pinnedCount} pinned snapshot(s) and policy ${policyName}, the chain can reach ${worst} snapshots, more than maxChainDepth ${policy.maxChainDepth}`,
      });
    }
  }

  issues.push(...overlappingDirectories(written, storages), ...sharedLayerNames(written, storages));

  return { desired: { source: configPath, hosts, storages, policies, guests, disks }, issues, warnings };
}

/** `; did you mean "lab"? (declared directories: lab)` for an unknown reference. */
function known(what: string, name: string, names: string[]): string {
  if (names.length === 0) return ` (no ${what} are declared)`;
  const best = closest(name, names);
  return `${best !== undefined ? `; did you mean "${best}"?` : ''} (declared ${what}: ${[...names].sort().join(', ')})`;
}

function sshTarget(h: WrittenHost): DesiredHost['ssh'] {
  if (typeof h.ssh === 'string') {
    const at = h.ssh.lastIndexOf('@');
    return at >= 0
      ? { user: h.ssh.slice(0, at), host: h.ssh.slice(at + 1), knownHosts: 'strict' }
      : { host: h.ssh, knownHosts: 'strict' };
  }
  const { knownHosts, ...rest } = h.ssh;
  return { ...rest, knownHosts: knownHosts ?? 'strict' };
}

function reserveOf(text: string): Reserve {
  if (text.endsWith('%')) return { kind: 'percent', value: Number(text.slice(0, -1)) };
  const bytes = parseSize(text);
  return { kind: 'bytes', value: typeof bytes === 'number' ? bytes : 0 };
}

function policyOf(name: string, p: WrittenPolicy, issues: PathIssue[], warnings: PathIssue[]): DesiredPolicy {
  const path = ['policies', name];
  if (!isValidTimeZone(p.timezone)) {
    issues.push({
      path: [...path, 'timezone'],
      message: `unknown time zone "${p.timezone}"; ${suggestTimeZone(p.timezone)}`,
    });
  } else if (p.schedule !== undefined) {
    const v = validateSchedule({ cron: p.schedule, timezone: p.timezone });
    if (!v.ok) issues.push({ path: [...path, 'schedule'], message: v.message });
  }
  const retention: RetentionRules = {};
  const r = p.retention ?? {};
  for (const key of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    if (r[key] !== undefined) retention[key] = r[key];
  }
  if (r.within !== undefined) {
    const ms = parseDuration(r.within);
    if (typeof ms === 'number') retention.within = ms;
    else issues.push({ path: [...path, 'retention', 'within'], message: ms.error });
  }
  const policy: DesiredPolicy = {
    name,
    timezone: p.timezone,
    retention,
    maxChainDepth: p.maxChainDepth ?? DEFAULTS.maxChainDepth,
    maxDeletesPerRun: p.maxDeletesPerRun ?? DEFAULTS.maxDeletesPerRun,
  };
  if (p.schedule !== undefined) policy.schedule = p.schedule;
  if (p.schedule === undefined && Object.keys(retention).length === 0) {
    warnings.push({
      path,
      message: 'this policy has neither a schedule nor retention rules; it does nothing',
    });
  }
  // Without a schedule the policy never takes snapshots, so only pinned ones can deepen the chain.
  const valid = issues.every((i) => i.path[0] !== 'policies' || i.path[1] !== name);
  if (valid && policy.schedule !== undefined) {
    const worst = worstCaseRetained(
      retention,
      policy.schedule !== undefined ? { cron: policy.schedule, timezone: policy.timezone } : undefined,
      0,
    );
    if (worst === 'unbounded' || worst > policy.maxChainDepth) {
      issues.push({
        path: [...path, 'retention'],
        message: `this policy can keep ${worst === 'unbounded' ? 'an unbounded number of' : `up to ${worst}`} snapshots, more than maxChainDepth ${policy.maxChainDepth}; lower the retention counts or raise maxChainDepth`,
      });
    }
  }
  return policy;
}

/** `did you mean "Europe/Berlin"?` for a near-miss time zone name, else what to write. */
function suggestTimeZone(name: string): string {
  const best = closest(name, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return best !== undefined ? `did you mean "${best}"?` : 'use an IANA name such as Europe/Berlin or UTC';
}

function record<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

// ── Directory paths (checked on this machine: directory storages are always local) ──────

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
export function realPathOf(path: string): string {
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
function directoryPathProblem(path: string): string | undefined {
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
function overlappingDirectories(
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

// ── Layer names two disks would share ────────────────────────────────────────────────────

interface NamedLayer {
  disk: string;
  ref: LayerRef;
  /** Where the layer is declared: the map and key to point at. */
  path: (string | number)[];
  key: string;
}

function describeLayer(l: NamedLayer): string {
  switch (l.ref.role) {
    case 'top':
      return `disk "${l.disk}"`;
    case 'snapshot':
      return l.ref.snap.startsWith('auto-')
        ? `the scheduled snapshots of disk "${l.disk}" (such as ${l.ref.snap})`
        : `snapshot "${l.ref.snap}" of disk "${l.disk}"`;
    case 'trash':
      return `the merge leftover of disk "${l.disk}"`;
  }
}

/**
 * Refuses configs where two disks on one storage would use the same LV or file name, or
 * where a name reads back as another disk's layer: `vm-900-a` with snapshot `q-vm-900-b`
 * and `vm-900-b-vm-900-a` with snapshot `q` are both `snap-q-vm-900-b-vm-900-a.qcow2`.
 * A sample scheduled snapshot name stands in for the ones the schedule will make.
 */
function sharedLayerNames(written: WrittenConfig, storages: Record<string, DesiredStorage>): PathIssue[] {
  const byStorage = new Map<string, NamedLayer[]>();
  const declare = (
    storage: string,
    disk: string,
    diskPath: (string | number)[],
    snapsPath: (string | number)[],
    pinned: string[],
  ) => {
    if (!Object.hasOwn(storages, storage)) return;
    const layers = byStorage.get(storage) ?? [];
    const sample = snapRef(autoSnapshotName(Date.UTC(2026, 0, 1)));
    for (const ref of [TOP, trashRef(TOP), sample, trashRef(sample)])
      layers.push({ disk, ref, path: diskPath.slice(0, -1), key: String(diskPath[diskPath.length - 1]) });
    for (const snap of pinned)
      for (const ref of [snapRef(snap), trashRef(snapRef(snap))])
        layers.push({ disk, ref, path: snapsPath, key: snap });
    byStorage.set(storage, layers);
  };
  for (const [g, guest] of Object.entries(written.guests ?? {}))
    for (const d of Object.keys(guest.disks))
      declare(
        guest.storage,
        d,
        ['guests', g, 'disks', d],
        ['guests', g, 'snapshots'],
        Object.keys(guest.snapshots ?? {}),
      );
  for (const [d, disk] of Object.entries(written.disks ?? {}))
    declare(disk.storage, d, ['disks', d], ['disks', d, 'snapshots'], Object.keys(disk.snapshots ?? {}));

  const issues: PathIssue[] = [];
  const reported = new Set<string>();
  for (const [name, layers] of byStorage) {
    const storage = storages[name] as DesiredStorage;
    const disksHere = [...new Set(layers.map((l) => l.disk))];
    const folderOf = (disk: string) => (storage.kind === 'dir' ? diskFolderName(disk) : '');
    const nameOf = (l: NamedLayer) =>
      storage.kind === 'dir'
        ? `images/${folderOf(l.disk)}/${layerFileName(l.disk, l.ref)}`
        : lvName(l.disk, l.ref);
    const parse = (l: NamedLayer) => {
      const peers = disksHere.filter((d) => folderOf(d) === folderOf(l.disk));
      return storage.kind === 'dir'
        ? parseLayerFileName(layerFileName(l.disk, l.ref), peers)
        : parseLvName(lvName(l.disk, l.ref), peers);
    };
    const owners = new Map<string, NamedLayer>();
    for (const l of layers) {
      const file = nameOf(l);
      const first = owners.get(file);
      const parsed = parse(l);
      const other =
        first && first.disk !== l.disk
          ? first
          : parsed && parsed.disk !== l.disk
            ? (layers.find((m) => m.disk === parsed.disk) ?? first)
            : undefined;
      if (!first) owners.set(file, l);
      if (!other || l.ref.role === 'trash') continue;
      const pair = [l.disk, other.disk].sort().join('\0');
      if (reported.has(pair)) continue;
      reported.add(pair);
      const how =
        first && first.disk !== l.disk
          ? `the same ${storage.kind === 'dir' ? 'file' : 'LV'} as ${describeLayer(first)}`
          : `a name that reads as a layer of disk "${other.disk}"`;
      issues.push({
        path: l.path,
        key: l.key,
        message: `${describeLayer(l)} would be stored as ${file} on storage "${name}", ${how}; rename one of the disks or snapshots`,
      });
    }
  }
  return issues;
}
