/**
 * Written config → Desired (names resolved, bytes, defaults), plus the rules that span
 * objects: unknown references, a disk declared twice, names LVM would reject, time zones,
 * cron expressions, and policies that can outgrow their chain depth.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
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
import { parseDuration, parseSize } from './units.js';
import type { PathIssue } from './load.js';
import { closest } from './names.js';
import { isValidTimeZone, validateSchedule, worstCaseRetained } from '../plan/schedule.js';

export const DEFAULTS = {
  vgReserve: '5%',
  dirReserve: '0B',
  maxChainDepth: 32,
  maxDeletesPerRun: 20,
} as const;

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

  const hosts: Record<string, DesiredHost> = {};
  for (const [name, h] of Object.entries(written.hosts ?? {})) hosts[name] = { name, ssh: sshTarget(h) };

  const storages: Record<string, DesiredStorage> = {};
  for (const [name, vg] of Object.entries(written.volumeGroups ?? {})) {
    if (vg.host !== undefined && !hosts[vg.host]) {
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
    if (storages[name]) {
      issues.push({
        path: ['directories'],
        key: name,
        message: `storage "${name}" is declared both as a volume group and as a directory`,
      });
      continue;
    }
    storages[name] = {
      kind: 'dir',
      name,
      path: isAbsolute(d.path) ? resolve(d.path) : resolve(baseDir, d.path),
      reserve: reserveOf(d.reserve ?? DEFAULTS.dirReserve),
    };
  }

  const policies: Record<string, DesiredPolicy> = {};
  for (const [name, p] of Object.entries(written.policies ?? {})) {
    policies[name] = policyOf(name, p, issues, warnings);
  }

  const disks: Record<string, DesiredDisk> = {};
  const declaredAt = new Map<string, (string | number)[]>();
  const guests: Record<string, DesiredGuest> = {};

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
    if (!storages[storage]) {
      issues.push({
        path: [...path, 'storage'],
        message: `unknown storage "${storage}"${known('volumeGroups or directories', storage, Object.keys(storages))}`,
      });
    }
    if (policy !== undefined && !policies[policy]) {
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
    const policy = policyName !== undefined ? policies[policyName] : undefined;
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
