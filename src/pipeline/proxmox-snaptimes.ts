/**
 * When Proxmox VE took a VM's snapshots, as its config records them (`snaptime` of each
 * `[snapshot]` section, DESIGN §13): `import` dates a snapshot by it before any estimate.
 */
import type { DesiredStorage } from '../model/desired.js';
import { isoSeconds } from '../base/instants.js';
import { LvchainError } from '../base/errors.js';
import { readProxmoxNode } from '../storage/proxmox/node.js';
import { parseVmConfig } from '../observe/proxmox/vm-config.js';
import { cat, readVmList } from './proxmox-check.js';
import type { Session } from './session.js';

export type Snaptimes =
  | { ok: true; byName: Record<string, string> }
  /** The node tree could not be read: the times are estimated, and the reason is shown. */
  | { ok: false; why: string };

export async function vmSnaptimes(
  session: Session,
  storage: DesiredStorage,
  vmid: number,
): Promise<Snaptimes> {
  const host = storage.kind === 'lvm' ? storage.host : undefined;
  const exec = session.executor(host);
  try {
    const node = await readProxmoxNode(exec, session.proxmoxSetting(host));
    if (!node) return { ok: false, why: `${exec.host} is not a Proxmox VE node` };
    const vmNode = (await readVmList(exec, node)).ids[String(vmid)]?.node;
    if (vmNode === undefined) return { ok: false, why: `VM ${vmid} is not in ${node.root}/.vmlist` };
    const file = `${node.root}/nodes/${vmNode}/qemu-server/${vmid}.conf`;
    const config = parseVmConfig(await cat(exec, file), vmid, `${file} on ${exec.host}`);
    const byName: Record<string, string> = {};
    for (const [name, section] of Object.entries(config.snapshots))
      if (section.snaptime !== undefined) byName[name] = isoSeconds(section.snaptime * 1000);
    return { ok: true, byName };
  } catch (e) {
    // A file that cannot be read or parsed leaves the estimates; anything else is a bug.
    if (e instanceof LvchainError) return { ok: false, why: e.message };
    throw e;
  }
}
