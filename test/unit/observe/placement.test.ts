/**
 * Which VM lists a disk and on which node, from the fixture node tree (test/fixtures/proxmox):
 * the configs are read by the same `grep -r` a plan sends, run here on the fixture.
 */
import { describe, expect, it } from 'vitest';
import { VM101_SNAPSHOTS } from '../../helpers/proxmox-fixture.js';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  configsArgv,
  diskOwners,
  factsArgv,
  nodeName,
  parseConfigListing,
  parseQmStatus,
} from '../../../src/observe/proxmox/placement.js';
import { parseVmList } from '../../../src/observe/proxmox/vmlist.js';
import { parseVmConfig } from '../../../src/observe/proxmox/vm-config.js';
import { placementText, runningElsewhere } from '../../../src/model/proxmox.js';

const root = join(__dirname, '../../fixtures/proxmox/node');
const list = () => parseVmList(readFileSync(join(root, '.vmlist'), 'utf8'), '.vmlist');

const DISKS = ['vm-101-disk-0', 'vm-101-disk-2', 'vm-201-disk-1', 'vm-102-disk-1', 'vm-999-disk-0'];

/** What the plan's greps print: the disks' lines and every section header, then the owners' snapshot facts. */
async function listing(disks: readonly string[] = DISKS): Promise<string[]> {
  const argvs = [configsArgv(root, disks), factsArgv(root, disks)].filter((a) => a !== undefined);
  return Promise.all(
    argvs.map(async ([cmd, ...args]) => (await execa(cmd as string, args, { reject: false })).stdout),
  );
}

const full = (node: string, vmid: string) => {
  const file = join(root, `nodes/${node}/qemu-server/${vmid}.conf`);
  return parseVmConfig(readFileSync(file, 'utf8'), Number(vmid), file);
};

describe('VM placement on a Proxmox node', () => {
  it('reads from one grep the disk lines naming declared disks and the sections, at their real lines', async () => {
    const configs = parseConfigListing(await listing(), root);
    expect([...configs.keys()].sort()).toEqual(['pve1/101', 'pve1/102', 'pve2/201']);
    for (const [key, config] of configs) {
      const [node, vmid] = key.split('/') as [string, string];
      const whole = full(node, vmid);
      const named = (d: { volume?: { volname: string } }) => DISKS.some((n) => d.volume?.volname.includes(n));
      expect(config.main.disks, key).toEqual(whole.main.disks.filter(named));
      expect(Object.keys(config.snapshots), key).toEqual(Object.keys(whole.snapshots));
    }
    expect(configs.get('pve1/101')?.main.disks.map((d) => `${d.key}@${d.line}`)).toEqual([
      'scsi0@15',
      'unused0@20',
    ]);
  });

  it('finds the VMs whose current config lists each disk on the VG’s storage IDs', async () => {
    const configs = parseConfigListing(await listing(), root);
    const owners = diskOwners(DISKS, list(), configs, ['san1', 'san1-raw']);
    // What the Proxmox engine reads of VM 101: its snapshots' times, parents, saved state and descriptions.
    const vm101 = {
      vmid: 101,
      node: 'pve1',
      snapshots: VM101_SNAPSHOTS,
    };
    expect(owners).toEqual({
      'vm-101-disk-0': [vm101],
      // An unused disk still belongs to its VM.
      'vm-101-disk-2': [vm101],
      'vm-201-disk-1': [{ vmid: 201, node: 'pve2', snapshots: {} }],
    });
    // The grep's lines give each snapshot the facts the whole file gives.
    for (const [key, config] of configs) {
      const [node, vmid] = key.split('/') as [string, string];
      const whole = full(node, vmid);
      for (const [name, s] of Object.entries(whole.snapshots))
        for (const k of ['snaptime', 'parent', 'vmstate', 'description'] as const)
          expect(config.snapshots[name]?.[k], `${key} [${name}] ${k}`).toBe(s[k]);
      expect(config.main.lock, key).toBe(whole.main.lock);
    }
    // vm-102-disk-1 is on the directory storage nfs-images, not on this VG.
    expect(diskOwners(['vm-102-disk-1'], list(), configs, ['san1'])).toEqual({});
  });

  it("reads snapshot facts and locks only from the configs of the VMs the disks' names give", async () => {
    const configs = parseConfigListing(await listing(['vm-101-disk-0']), root);
    expect(configs.get('pve1/101')?.snapshots['before-upgrade']?.snaptime).toBe(
      VM101_SNAPSHOTS['before-upgrade'].snaptime,
    );
    // VM 102 is locked and has dated snapshots; none of it is sent for a plan of VM 101's disk.
    expect(full('pve1', '102').main.lock).toBe('snapshot');
    expect(configs.get('pve1/102')?.main.lock).toBeUndefined();
    expect(configs.get('pve1/102')?.snapshots.nightly?.snaptime).toBeUndefined();
    expect(factsArgv(root, ['data-disk'])).toBeUndefined();
  });

  it('reads a config only where the VM list places its VM', async () => {
    const configs = parseConfigListing(await listing(), root);
    const moved = list();
    (moved.ids['201'] as { node: string }).node = 'pve3';
    expect(diskOwners(['vm-201-disk-1'], moved, configs, ['san1'])).toEqual({});
  });

  it('reads qm status and the node name', () => {
    expect(parseQmStatus('status: running\n')).toBe('running');
    expect(parseQmStatus('status: stopped\n')).toBe('stopped');
    expect(parseQmStatus('status: paused\n')).toBeUndefined();
    expect(parseQmStatus('')).toBeUndefined();
    expect(nodeName('pve2.example.org\n')).toBe('pve2');
  });

  it('counts a VM on another node as blocking unless it is stopped, and says why', () => {
    const base = { vmid: 201, node: 'pve2', here: false, snapshots: {} };
    expect(runningElsewhere([{ ...base, state: 'stopped' }])).toBeUndefined();
    expect(runningElsewhere([{ ...base, here: true, state: 'running' }])).toBeUndefined();
    const running = runningElsewhere([{ ...base, state: 'running' }]);
    expect(running && placementText(running)).toBe('VM 201 is running on pve2');
    const unknown = runningElsewhere([{ ...base, state: 'unknown', why: 'no host is pve2' }]);
    expect(unknown && placementText(unknown)).toBe(
      'VM 201 is on pve2 and counts as running there: no host is pve2',
    );
  });
});
