/**
 * A disk whose Proxmox VM runs on another node is left alone with the node named; a stopped VM's
 * disk is planned as usual. Fixture `drift` (disk vm-130 wants snapshot s1), with the VM
 * placement an LVM observation on a Proxmox node attaches to the disk.
 */
import { describe, expect, it } from 'vitest';
import { changeLines, planFixture } from './plan-fixture.js';
import type { PveVmPlacement } from '../../../src/model/proxmox.js';
import type { Observed } from '../../../src/model/observed.js';

const placed =
  (vm: PveVmPlacement) =>
  (o: Observed): void => {
    const disk = o.storages.lab?.disks['vm-130-disk-0'];
    if (!disk) throw new Error('fixture drift lacks vm-130-disk-0');
    disk.proxmoxVms = [vm];
  };

describe('disks of VMs on other Proxmox nodes', () => {
  it('plans the snapshot of a disk whose VM is stopped on another node', () => {
    const plan = planFixture(
      'drift',
      {},
      undefined,
      placed({ vmid: 130, node: 'pve2', here: false, snapshots: {}, state: 'stopped' }),
    );
    expect(changeLines(plan)).toContain('snapshot.vm-130-disk-0@s1: snapshot');
  });

  it('leaves a disk whose VM runs on another node alone and says where it runs', () => {
    const plan = planFixture(
      'drift',
      {},
      undefined,
      placed({ vmid: 130, node: 'pve2', here: false, snapshots: {}, state: 'running' }),
    );
    expect(plan.resource_changes.filter((c) => c.disk === 'vm-130-disk-0')).toEqual([]);
    expect(plan.diagnostics).toContainEqual({
      severity: 'warning',
      code: 'running_elsewhere',
      address: 'disk.vm-130-disk-0',
      summary:
        'disk.vm-130-disk-0 is left alone: VM 130 is running on pve2, and lvchain never activates, renames or merges a disk of a VM running on another node (routing the change to Proxmox there is later work)',
    });
  });

  it('counts a VM on a node it cannot ask as running, with the reason', () => {
    const why =
      'no host in the config is Proxmox node pve3 (hosts.<name>.proxmox.node), so lvchain cannot ask it';
    const plan = planFixture(
      'drift',
      {},
      undefined,
      placed({ vmid: 130, node: 'pve3', here: false, snapshots: {}, state: 'unknown', why }),
    );
    expect(plan.resource_changes.filter((c) => c.disk === 'vm-130-disk-0')).toEqual([]);
    expect(plan.diagnostics.find((d) => d.code === 'running_elsewhere')?.summary).toContain(
      `VM 130 is on pve3 and counts as running there: ${why}`,
    );
  });

  it('plans a disk whose VM runs on this node as any disk in use here', () => {
    const plan = planFixture(
      'drift',
      {},
      undefined,
      placed({ vmid: 130, node: 'pve1', here: true, snapshots: {}, state: 'running' }),
    );
    expect(changeLines(plan)).toContain('snapshot.vm-130-disk-0@s1: snapshot');
  });
});
