/**
 * validate's Proxmox checks against the hand-written node tree (test/fixtures/proxmox), read
 * with real `stat` and `cat`. The node is reached through this machine's executor instead of
 * ssh: the transport is the only stand-in, the files and commands are real.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LocalExecutor } from '../../../src/exec/local.js';
import { Session } from '../../../src/pipeline/session.js';
import { checkProxmox } from '../../../src/pipeline/proxmox-check.js';

const FIXTURE = join(__dirname, '../../fixtures/proxmox/node');

describe('validate against a Proxmox node', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvchain-pve-validate-'));
    cpSync(FIXTURE, join(dir, 'pve'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const check = async (guests: Record<string, unknown>, proxmox: unknown = { root: join(dir, 'pve') }) => {
    const file = join(dir, 'lvchain.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        hosts: { pve1: { ssh: 'root@pve1', proxmox } },
        volumeGroups: { vg_san1: { host: 'pve1' }, vg_san2: { host: 'pve1' }, vg_lonely: { host: 'pve1' } },
        guests,
      }),
    );
    const session = await Session.open(file);
    vi.spyOn(session, 'executor').mockReturnValue(new LocalExecutor());
    const report = await checkProxmox(session);
    const lines = (issues: typeof report.errors) =>
      issues.map((i) => `${i.location.line} ${i.path}: ${i.message}`);
    return { notes: report.notes, errors: lines(report.errors), warnings: lines(report.warnings) };
  };
  const guest = (vmid: number, disks: string[], storage = 'vg_san1') => ({
    storage,
    vm: { proxmox: vmid },
    disks: Object.fromEntries(disks.map((d) => [d, { size: '1GiB' }])),
  });

  it('accepts VMs whose configs own the declared disks, says once which storage IDs each VG is, and warns about the rest', async () => {
    const r = await check({
      web: guest(101, ['vm-101-disk-0', 'vm-101-disk-1']),
      db: guest(102, ['vm-102-disk-0']),
    });
    expect(r.errors).toEqual([]);
    expect(r.notes).toEqual([
      `pve1 is a Proxmox VE node (${join(dir, 'pve')}, declared, a plain directory, not pmxcfs); VG vg_san1 is storage san1, san1-raw; VG vg_san2 is storage san2; VG vg_lonely is storage (none)`,
    ]);
    expect(r.warnings).toEqual([
      '10 volumeGroups.vg_san2: no snapshot-as-volume-chain storage uses VG vg_san2 (san2): Proxmox will not read its qcow2 chains',
      '12 volumeGroups.vg_lonely: VG vg_lonely is in no storage of storage.cfg: Proxmox does not use it, and lvchain takes no Proxmox lock for it',
      "27 guests.db.vm.proxmox: VM 102's efidisk0 (vm-102-disk-2) is on vg_san1 but not declared; it is not snapshotted with the others",
      '27 guests.db.vm.proxmox: VM 102 is locked by Proxmox (lock: snapshot)',
    ]);
  });

  it('refuses a VMID that is not a VM, and disks the VM does not own, at the guest', async () => {
    const r = await check({
      a: guest(999, ['vm-999-disk-0']),
      b: guest(300, ['vm-300-disk-0']),
      c: guest(101, ['vm-101-disk-0'], 'vg_san2'),
      d: guest(201, ['vm-201-disk-7', 'vm-102-disk-0']),
    });
    expect(r.errors).toEqual([
      "18 guests.a.vm.proxmox: VM 999 is not in the cluster's VM list (.vmlist)",
      '25 guests.b.vm.proxmox: 300 is a container (lxc) on pve2, not a VM',
      '32 guests.c.vm.proxmox: VM 101 has vm-101-disk-0 (scsi0) on storage san1, which is VG vg_san1, not vg_san2',
      '39 guests.d.vm.proxmox: disk vm-102-disk-0 is not named for VM 201; Proxmox names its disks vm-201-disk-N',
      "39 guests.d.vm.proxmox: VM 201's config has no disk line for vm-102-disk-0",
      "39 guests.d.vm.proxmox: VM 201's config has no disk line for vm-201-disk-7",
    ]);
    // VM 201 (on pve2) has its raw disk under the second storage ID of the same VG: it counts.
    expect(r.warnings).toContain(
      "39 guests.d.vm.proxmox: VM 201's sata0 (vm-201-disk-0) is on vg_san1 but not declared; it is not snapshotted with the others",
    );
  });

  it('refuses vm.proxmox on a host that is no node, and a declared root that is not there', async () => {
    const off = await check({ web: guest(101, ['vm-101-disk-0']) }, false);
    expect(off.errors).toEqual([
      '17 guests.web.vm.proxmox: pve1 is not a Proxmox VE node (proxmox: false); declare its proxmox.root, or remove vm.proxmox',
    ]);
    await expect(check({}, { root: join(dir, 'absent') })).rejects.toThrow(
      `local is declared a Proxmox VE node, but ${join(dir, 'absent')} is not there`,
    );
  });

  it('names the file and line of a VM config it cannot read', async () => {
    writeFileSync(
      join(dir, 'pve/nodes/pve1/qemu-server/101.conf'),
      'name: web\nscsi0: san1:vm-101-disk-0.qcow2,size=big\n',
    );
    await expect(check({ web: guest(101, ['vm-101-disk-0']) })).rejects.toThrow(
      `${join(dir, 'pve')}/nodes/pve1/qemu-server/101.conf on local:2: scsi0: size "big" is not a size such as 32G`,
    );
  });
});
