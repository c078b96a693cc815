/** Addresses are built and parsed in one module: what it builds, it parses back. */
import { describe, expect, it } from 'vitest';
import {
  diskAddress,
  guestAddress,
  parseAddress,
  snapshotAddress,
  vgAddress,
} from '../../../src/model/address.js';

describe('addresses', () => {
  it('parses back what it builds', () => {
    expect(parseAddress(diskAddress('vm-100-disk-0'))).toEqual({ kind: 'disk', disk: 'vm-100-disk-0' });
    expect(parseAddress(guestAddress('web'))).toEqual({ kind: 'guest', guest: 'web' });
    expect(parseAddress(snapshotAddress('vm-100-disk-0', 'daily-1'))).toEqual({
      kind: 'snapshot',
      disk: 'vm-100-disk-0',
      snap: 'daily-1',
    });
  });

  it('builds the strings plans have always carried', () => {
    expect(vgAddress('pve')).toBe('vg.pve');
    expect(snapshotAddress('d', 's')).toBe('snapshot.d@s');
  });

  it('refuses what a user may not target', () => {
    for (const text of ['vg.pve', 'disk.', 'snapshot.d@1x', 'snapshot.d', 'disk.../x', 'guest.1a'])
      expect(parseAddress(text)).toBeUndefined();
  });
});
