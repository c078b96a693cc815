/**
 * Whether the host that runs a storage's commands is a Proxmox VE node, and which of its
 * storage IDs use a VG (DESIGN §13): the file system type of the root (which also says whether
 * it exists) and `storage.cfg`, sent with the VG's observation so a plan still costs one round
 * trip.
 */
import type { BatchCommand, CommandResult, Executor } from '../../exec/executor.js';
import type { ProxmoxNodeSetting } from '../../model/desired.js';
import { PROXMOX_ROOT } from '../../model/desired.js';
import type { PveStorage } from '../../model/proxmox.js';
import { LvchainError } from '../../base/errors.js';
import { parseStorageCfg } from '../../observe/proxmox/storage-cfg.js';

export interface ProxmoxNode {
  root: string;
  /** The root is Proxmox's cluster file system (a FUSE mount), not a plain directory. */
  pmxcfs: boolean;
  storages: PveStorage[];
  /** Found by looking, not declared in the config. */
  detected: boolean;
}

/** pmxcfs is a FUSE file system; `stat -f` names its type so. */
const FUSE = /^fuse/;

/**
 * The commands that tell whether a host is a node and read its storage.cfg; none when it is
 * declared not to be. They run only where the root is: a host that is no node pays no process.
 * A declared node's root is stat'ed regardless, so that its absence is explained.
 */
export function nodeProbe(setting: ProxmoxNodeSetting): BatchCommand[] {
  if (setting.kind === 'off') return [];
  const root = rootOf(setting);
  const type = ['stat', '-f', '-c', '%T', root];
  return [
    setting.kind === 'declared' ? type : { argv: type, ifDirectory: root },
    { argv: ['cat', `${root}/storage.cfg`], ifDirectory: root },
  ];
}

/** The node those commands found, if any. */
export function nodeFromProbe(
  host: string,
  setting: ProxmoxNodeSetting,
  [type, text]: readonly (CommandResult | undefined)[],
): ProxmoxNode | undefined {
  if (setting.kind === 'off') return undefined;
  const root = rootOf(setting);
  const cfg = `${root}/storage.cfg`;
  if (!type || !text) throw new LvchainError('command_failed', `no answer from ${host}`);
  if (type.failed) {
    if (setting.kind === 'detect') return undefined;
    throw new LvchainError(
      'not_found',
      `${host} is declared a Proxmox VE node, but ${root} is not there: ${type.stderr.trim()}`,
      { hints: ['Fix hosts.<host>.proxmox.root, or write proxmox: false for a host that is not a node.'] },
    );
  }
  if (text.failed)
    throw new LvchainError(
      'command_failed',
      `cannot read ${cfg} on ${host}, a Proxmox VE node: ${text.stderr.trim()}`,
    );
  return {
    root,
    pmxcfs: FUSE.test(type.stdout.trim()),
    storages: parseStorageCfg(text.stdout, `${cfg} on ${host}`),
    detected: setting.kind === 'detect',
  };
}

export async function readProxmoxNode(
  exec: Executor,
  setting: ProxmoxNodeSetting,
): Promise<ProxmoxNode | undefined> {
  const probe = nodeProbe(setting);
  if (probe.length === 0) return undefined;
  return nodeFromProbe(exec.host, setting, await exec.runBatch(probe));
}

export const rootOf = (setting: ProxmoxNodeSetting): string =>
  setting.kind === 'declared' ? setting.root : PROXMOX_ROOT;

/** The storage IDs whose LVM storage is this VG, in the order their locks are taken. */
export function storageIdsOf(node: ProxmoxNode, vg: string): string[] {
  return node.storages
    .filter((s) => s.type === 'lvm' && s.vgname === vg)
    .map((s) => s.id)
    .sort();
}
