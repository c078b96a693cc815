/**
 * Which Proxmox VMs list a disk, and on which node (DESIGN §13): the cluster's VM list says
 * where each VM's config lives, and the disk lines of that config's current state say which
 * volumes it uses. The configs arrive as `grep -r` over `<root>/nodes`, each line prefixed with
 * its file, so a plan reads them in the same round trip as the VG. Only the lines that name a
 * declared disk and the section headers are sent: a disk line always names its volume, and the
 * headers tell the current state from the snapshots. The snapshot facts come from the configs of
 * the VMs the disks' names give (`factsArgv`). A cluster's other VMs cost a section header line
 * each, and a config line lvchain could not parse stops a plan only if it names a declared disk.
 */
import type { PveSnapshotFacts, PveVmConfig, PveVmList } from '../../model/proxmox.js';
import { volumeDisk } from './ownership.js';
import { parseVmConfig } from './vm-config.js';

/** `grep` of the lines holding any of `patterns` in the VM configs under `<root>/nodes` that `include` names, each prefixed with its file and line number. */
function grepConfigs(root: string, include: readonly string[], patterns: readonly string[]): string[] {
  return [
    'grep',
    '-r',
    '-H',
    '-n',
    '-F',
    ...include.map((glob) => `--include=${glob}`),
    ...patterns.flatMap((p) => ['-e', p]),
    `${root}/nodes`,
  ];
}

/** The lines of the VM configs under `<root>/nodes` that name one of the disks or open a section, prefixed with their file. */
export function configsArgv(root: string, disks: readonly string[]): string[] {
  return grepConfigs(root, ['*.conf'], ['[', ...disks]);
}

/**
 * What the Proxmox engine and import read of the VMs that own the disks: their lock, and their
 * snapshots' times, parents, saved states and descriptions. Proxmox names a VM's volumes
 * `vm-<vmid>-…` (or `base-<vmid>-…`), so only those VMs' configs are read; none when no disk is so named.
 */
export function factsArgv(root: string, disks: readonly string[]): string[] | undefined {
  const vmids = [...new Set(disks.flatMap((d) => /^(?:vm|base)-([1-9]\d*)-/.exec(d)?.[1] ?? []))];
  if (vmids.length === 0) return undefined;
  return grepConfigs(
    root,
    vmids.map((id) => `${id}.conf`),
    ['[', 'lock:', 'snaptime:', 'parent:', 'vmstate:', '#'],
  );
}

/**
 * The VM configs of those listings by `<node>/<vmid>`, parsed from the lines they hold, each at
 * its own line number so messages name the real line (containers' configs are skipped).
 */
export function parseConfigListing(stdouts: readonly string[], root: string): Map<string, PveVmConfig> {
  const prefix = `${root}/nodes/`;
  const texts = new Map<string, string[]>();
  for (const line of stdouts.join('\n').split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^([^/]+)\/qemu-server\/([1-9]\d*)\.conf:(\d+):(.*)$/.exec(line.slice(prefix.length));
    if (!m) continue;
    const key = `${m[1]}/${m[2]}`;
    const lines = texts.get(key) ?? [];
    lines[Number(m[3]) - 1] = m[4] as string;
    texts.set(key, lines);
  }
  return new Map(
    [...texts].map(([key, lines]) => {
      const [node, vmid] = key.split('/') as [string, string];
      const file = `${root}/nodes/${node}/qemu-server/${vmid}.conf`;
      // The lines grep left out are blank here, which the parser skips.
      return [key, parseVmConfig(Array.from(lines, (l) => l ?? '').join('\n'), Number(vmid), file)];
    }),
  );
}

export interface DiskOwner {
  vmid: number;
  node: string;
  lock?: string;
  snapshots: Record<string, PveSnapshotFacts>;
}

/**
 * For each disk, the VMs whose current config lists it on one of the VG's storage IDs (an
 * `unusedN` line too: the VM's node still owns it). A config is read where `.vmlist` places its
 * VM; a copy under another node's directory is not the VM's.
 */
export function diskOwners(
  disks: readonly string[],
  list: PveVmList,
  configs: ReadonlyMap<string, PveVmConfig>,
  storageIds: readonly string[],
): Record<string, DiskOwner[]> {
  const wanted = new Set(disks);
  const owners: Record<string, DiskOwner[]> = {};
  for (const [vmid, entry] of Object.entries(list.ids)) {
    if (entry.type !== 'qemu') continue;
    const config = configs.get(`${entry.node}/${vmid}`);
    if (!config) continue;
    const found = new Set(
      config.main.disks.flatMap((d) =>
        d.volume && storageIds.includes(d.volume.storage) ? [volumeDisk(d.volume.volname)] : [],
      ),
    );
    const facts = {
      ...(config.main.lock !== undefined ? { lock: config.main.lock } : {}),
      snapshots: snapshotFacts(config),
    };
    for (const disk of found)
      if (wanted.has(disk)) (owners[disk] ??= []).push({ vmid: Number(vmid), node: entry.node, ...facts });
  }
  return owners;
}

/** `qm status <vmid>` prints `status: running` or `status: stopped`; anything else is not known. */
export function parseQmStatus(stdout: string): 'running' | 'stopped' | undefined {
  const m = /^status: (\S+)$/m.exec(stdout);
  return m?.[1] === 'running' || m?.[1] === 'stopped' ? m[1] : undefined;
}

/** Proxmox's node name is the host name up to its first dot. */
export function nodeName(unameN: string): string {
  return unameN.trim().split('.')[0] ?? '';
}

function snapshotFacts(config: PveVmConfig): Record<string, PveSnapshotFacts> {
  return Object.fromEntries(
    Object.entries(config.snapshots).map(([name, s]) => {
      const f: PveSnapshotFacts = {};
      if (s.snaptime !== undefined) f.snaptime = s.snaptime;
      if (s.parent !== undefined) f.parent = s.parent;
      if (s.vmstate !== undefined) f.vmstate = s.vmstate;
      if (s.description !== undefined) f.description = s.description;
      return [name, f];
    }),
  );
}
