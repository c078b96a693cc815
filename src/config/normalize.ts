/**
 * Written config → Desired (names resolved, bytes, defaults), plus the rules that span
 * objects: unknown references, a disk declared twice, names LVM would reject, time zones,
 * cron expressions, and policies that can outgrow their chain depth.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type {
  Desired,
  DesiredHost,
  DesiredPolicy,
  DesiredStorage,
  ProxmoxNodeSetting,
  Reserve,
} from '../model/desired.js';
import { PROXMOX_ROOT } from '../model/desired.js';
import { parseSize } from '../base/units.js';
import type { WrittenConfig, WrittenHost } from './schema.js';
import { rateBytes } from './schema-merge.js';
import type { PathIssue } from './path.js';
import { known, record } from './declared.js';
import { DEFAULTS } from './defaults.js';
import { policyOf } from './policies.js';
import { declareDisks } from './disks.js';
import { pinnedDepthIssues } from './pinned-depth.js';
import { directoryPathProblem, overlappingDirectories } from './directories.js';
import { sharedLayerNames } from './layer-clashes.js';

export function normalize(
  written: WrittenConfig,
  configPath: string,
): { desired: Desired; issues: PathIssue[]; warnings: PathIssue[] } {
  const issues: PathIssue[] = [];
  const warnings: PathIssue[] = [];
  const baseDir = dirname(configPath);

  const hosts: Record<string, DesiredHost> = record();
  for (const [name, h] of Object.entries(written.hosts ?? {}))
    hosts[name] = { name, ssh: sshTarget(h), proxmox: proxmoxSetting(h) };

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
      ...rateOf(vg.mergeRate),
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
    storages[name] = {
      kind: 'dir',
      name,
      path,
      reserve: reserveOf(d.reserve ?? DEFAULTS.dirReserve),
      ...rateOf(d.mergeRate),
    };
  }

  const policies: Record<string, DesiredPolicy> = record();
  for (const [name, p] of Object.entries(written.policies ?? {})) {
    policies[name] = policyOf(name, p, issues, warnings);
  }

  const { disks, guests } = declareDisks(written, storages, policies, issues);
  issues.push(...pinnedDepthIssues(written, policies, issues));
  issues.push(...overlappingDirectories(written, storages), ...sharedLayerNames(written, storages));

  return { desired: { source: configPath, hosts, storages, policies, guests, disks }, issues, warnings };
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

function proxmoxSetting(h: WrittenHost): ProxmoxNodeSetting {
  if (h.proxmox === undefined) return { kind: 'detect' };
  // The schema lets only false through as a boolean.
  if (typeof h.proxmox === 'boolean') return { kind: 'off' };
  const { root, node } = h.proxmox;
  return { kind: 'declared', root: root ?? PROXMOX_ROOT, ...(node !== undefined ? { node } : {}) };
}

/** The schema has checked the text; a rate is bytes per second. */
function rateOf(text: string | undefined): { mergeRate?: number } {
  const r = text === undefined ? undefined : rateBytes(text);
  return typeof r === 'number' ? { mergeRate: r } : {};
}

function reserveOf(text: string): Reserve {
  if (text.endsWith('%')) return { kind: 'percent', value: Number(text.slice(0, -1)) };
  const bytes = parseSize(text);
  return { kind: 'bytes', value: typeof bytes === 'number' ? bytes : 0 };
}
