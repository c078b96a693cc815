/**
 * Where VMs run, read with real tools on this machine (cat, grep -r, uname, and the qm this
 * machine does not have) against the fixture node tree (test/fixtures/proxmox): which VMs own
 * the disks, and why each counts as running when lvchain cannot ask its node.
 */
import { describe, expect, it } from 'vitest';
import { VM101_SNAPSHOTS } from '../../helpers/proxmox-fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalExecutor } from '../../../src/exec/local.js';
import { VmPlacements } from '../../../src/storage/proxmox/placement.js';
import type { Resolved } from '../../../src/storage/proxmox/cluster-lock.js';

const root = join(__dirname, '../../fixtures/proxmox/node');
const resolved = (at: string, pmxcfs: boolean): Resolved => ({
  node: { root: at, pmxcfs, storages: [], detected: false },
  ids: ['san1', 'san1-raw'],
  local: [],
});
const placements = (at: string, node?: string) =>
  new VmPlacements(
    new LocalExecutor(),
    { kind: 'declared', root: at, ...(node !== undefined ? { node } : {}) },
    () => undefined,
  );

describe('VmPlacements on this machine', () => {
  it('counts a VM on a node no host is as running, and says so', async () => {
    const found = await placements(root).read(resolved(root, false), ['vm-201-disk-1', 'vm-999-disk-0']);
    expect(found).toEqual({
      'vm-201-disk-1': [
        {
          vmid: 201,
          node: 'pve2',
          here: false,
          state: 'unknown',
          why: 'no host in the config is Proxmox node pve2 (hosts.<name>.proxmox.node), so lvchain cannot ask it',
          snapshots: {},
        },
      ],
    });
  });

  it('asks qm on its own node, and counts a VM it could not ask about as running', async () => {
    const found = await placements(root, 'pve1').read(resolved(root, false), ['vm-101-disk-0']);
    expect(found['vm-101-disk-0']).toEqual([
      {
        vmid: 101,
        node: 'pve1',
        here: true,
        state: 'unknown',
        // This machine is no Proxmox node: it has no qm.
        why: 'cannot ask pve1 (local): qm is not installed on this machine',
        snapshots: VM101_SNAPSHOTS,
      },
    ]);
  });

  it('reads no VMs from a plain directory without .vmlist, but stops on pmxcfs that cannot give it', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'lvchain-pve-'));
    try {
      expect(await placements(empty).read(resolved(empty, false), ['vm-101-disk-0'])).toEqual({});
      await expect(placements(empty).read(resolved(empty, true), ['vm-101-disk-0'])).rejects.toThrow(
        `cannot read ${empty}/.vmlist on local`,
      );
    } finally {
      await rm(empty, { recursive: true });
    }
  });
});
