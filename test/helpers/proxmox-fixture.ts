/**
 * What the fixture node tree (test/fixtures/proxmox/node) says of VM 101's snapshots, read by
 * hand from its config: the expected value of every reader of that file.
 */
export const VM101_SNAPSHOTS = {
  'first-boot': { snaptime: 1760003600, description: 'clean install' },
  'before-upgrade': {
    snaptime: 1764500000,
    parent: 'first-boot',
    vmstate: 'san1:vm-101-state-before-upgrade',
    description: 'before the 9.1 upgrade\nwith RAM',
  },
};
