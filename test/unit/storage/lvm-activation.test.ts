/** Activation argv as Proxmox VE 9 runs it (reference §8 and §3, pve-storage fix #7143). */
import { describe, expect, it } from 'vitest';
import { activateArgvs, chainSelection, deactivateArgvs } from '../../../src/storage/lvm/activation.js';
import { displayArgv } from '../../../src/base/quote.js';

describe('LVM chain activation', () => {
  it('selects the chain with the expression Proxmox passes to lvchange', () => {
    // Copied from the reference's command log of pve-storage's activate_volume.
    expect(`'${chainSelection('vg_san1', 'vm-401-disk-0')}'`).toBe(
      `'vg_name = "vg_san1" && lv_name =~ '^(vm-401-disk-0|snap_vm-401-disk-0_.+)\\.qcow2$''`,
    );
  });

  it('activates exclusively, refreshes, and deactivates locally, each on the same selection', () => {
    const select = chainSelection('vg0', 'vm-1-disk-0');
    expect(activateArgvs('vg0', 'vm-1-disk-0')).toEqual([
      ['lvchange', '-aey', '--select', select],
      ['lvchange', '--refresh', '--select', select],
    ]);
    expect(deactivateArgvs('vg0', 'vm-1-disk-0')).toEqual([['lvchange', '-aln', '--select', select]]);
  });

  it('names the del- layers of an interrupted merge, which the selection does not match', () => {
    const trash = ['vg0/del-snap_vm-1-disk-0_s1.qcow2'];
    expect(activateArgvs('vg0', 'vm-1-disk-0', trash)[2]).toEqual(['lvchange', '-aey', ...trash]);
    expect(deactivateArgvs('vg0', 'vm-1-disk-0', trash)[1]).toEqual(['lvchange', '-aln', ...trash]);
  });

  it('escapes the dots of a disk name and quotes the selection as one word for ssh', () => {
    const select = chainSelection('vg0', 'db.data');
    expect(new RegExp(select.split("=~ '")[1]?.slice(0, -1) ?? '').test('dbxdata.qcow2')).toBe(false);
    expect(displayArgv(['lvchange', '-aln', '--select', select])).toBe(
      `lvchange -aln --select 'vg_name = "vg0" && lv_name =~ '\\''^(db\\.data|snap_db\\.data_.+)\\.qcow2$'\\'''`,
    );
  });
});
