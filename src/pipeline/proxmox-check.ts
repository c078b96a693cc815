/**
 * validate's look at Proxmox VE nodes (DESIGN §13). It reaches only the hosts the config says
 * are nodes (`proxmox:` declared, or the host of a `vm: { proxmox }` disk) and this machine
 * for local VGs (detection is one `stat`); plan and apply detect every VG's host in the
 * round trip that observes the VG. Per node it reads storage.cfg, and for Proxmox VMs
 * `.vmlist` and their configs.
 */
import type { ConfigIssue } from '../base/errors.js';
import { LvchainError } from '../base/errors.js';
import type { DesiredStorage } from '../model/desired.js';
import type { PveVmList } from '../model/proxmox.js';
import { readProxmoxNode, storageIdsOf, type ProxmoxNode } from '../storage/proxmox/node.js';
import { parseVmList } from '../observe/proxmox/vmlist.js';
import { parseVmConfig } from '../observe/proxmox/vm-config.js';
import {
  ownershipFindings,
  vgFinding,
  vmListFinding,
  type ProxmoxFinding,
  type ProxmoxGuest,
} from '../observe/proxmox/ownership.js';
import type { Executor } from '../exec/executor.js';
import type { Session } from './session.js';

export interface ProxmoxReport {
  /** One line per node found, said once. */
  notes: string[];
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

interface Claim extends ProxmoxGuest {
  at: (string | number)[];
}

export async function checkProxmox(session: Session): Promise<ProxmoxReport> {
  const d = session.desired;
  const report: ProxmoxReport = { notes: [], errors: [], warnings: [] };
  const hostOf = (s: DesiredStorage) => (s.kind === 'lvm' ? s.host : undefined);
  const claims: Claim[] = [];
  for (const g of Object.values(d.guests)) {
    const storage = d.storages[g.storage];
    if (g.proxmoxVm !== undefined && storage)
      claims.push({ vmid: g.proxmoxVm, storage, disks: g.disks, at: ['guests', g.name, 'vm', 'proxmox'] });
  }
  for (const disk of Object.values(d.disks)) {
    const storage = d.storages[disk.storage];
    if (disk.guest === undefined && disk.proxmoxVm !== undefined && storage)
      claims.push({
        vmid: disk.proxmoxVm,
        storage,
        disks: [disk.name],
        at: ['disks', disk.name, 'vm', 'proxmox'],
      });
  }
  const hosts = new Set<string | undefined>([
    ...Object.values(d.hosts)
      .filter((h) => h.proxmox.kind === 'declared')
      .map((h) => h.name),
    ...claims.map((c) => hostOf(c.storage)),
    ...Object.values(d.storages).flatMap((s) =>
      s.kind === 'lvm' && s.host === undefined ? [undefined] : [],
    ),
  ]);
  const add = (at: (string | number)[], f: ProxmoxFinding) =>
    (f.severity === 'error' ? report.errors : report.warnings).push(session.config.locate(at, f.message));
  for (const host of hosts) {
    const setting = session.proxmoxSetting(host);
    const exec = session.executor(host);
    const name = host ?? 'this machine';
    const node = await readProxmoxNode(exec, setting);
    const here = claims.filter((c) => hostOf(c.storage) === host);
    if (!node) {
      for (const c of here)
        add(c.at, {
          severity: 'error',
          message: `${name} is not a Proxmox VE node (${setting.kind === 'off' ? 'proxmox: false' : 'no /etc/pve there'}); declare its proxmox.root, or remove vm.proxmox`,
        });
      continue;
    }
    const vgs = Object.values(d.storages).filter((s) => s.kind === 'lvm' && hostOf(s) === host);
    report.notes.push(
      `${name} is a Proxmox VE node (${node.root}, ${node.detected ? 'detected' : 'declared'}, ${node.pmxcfs ? 'pmxcfs' : 'a plain directory, not pmxcfs'})${vgs.map((s) => `; VG ${s.name} is storage ${storageIdsOf(node, s.name).join(', ') || '(none)'}`).join('')}`,
    );
    for (const vg of vgs) {
      const f = vgFinding(vg.name, node.storages);
      if (f) add(['volumeGroups', vg.name], f);
    }
    if (here.length === 0) continue;
    const list = await readVmList(exec, node);
    for (const c of here) {
      const missing = vmListFinding(c, list);
      if (missing) {
        add(c.at, missing);
        continue;
      }
      const vmNode = list.ids[String(c.vmid)]?.node as string;
      const file = `${node.root}/nodes/${vmNode}/qemu-server/${c.vmid}.conf`;
      const config = parseVmConfig(await cat(exec, file), c.vmid, `${file} on ${exec.host}`);
      for (const f of ownershipFindings(c, config, node.storages)) add(c.at, f);
    }
  }
  return report;
}

export async function readVmList(exec: Executor, node: ProxmoxNode): Promise<PveVmList> {
  const file = `${node.root}/.vmlist`;
  return parseVmList(await cat(exec, file), `${file} on ${exec.host}`);
}

export async function cat(exec: Executor, file: string): Promise<string> {
  const r = await exec.run(['cat', file]);
  if (r.failed)
    throw new LvchainError('command_failed', `cannot read ${file} on ${exec.host}: ${r.stderr.trim()}`);
  return r.stdout;
}
