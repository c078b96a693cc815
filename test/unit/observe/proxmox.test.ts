import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStorageCfg } from '../../../src/observe/proxmox/storage-cfg.js';
import { parseVmList } from '../../../src/observe/proxmox/vmlist.js';
import { parseVmConfig } from '../../../src/observe/proxmox/vm-config.js';

const root = join(__dirname, '../../fixtures/proxmox/node');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const vm = (node: string, vmid: number) =>
  parseVmConfig(read(`nodes/${node}/qemu-server/${vmid}.conf`), vmid, `${vmid}.conf`);

describe('storage.cfg (test/fixtures/proxmox, written in the documented format)', () => {
  const storages = parseStorageCfg(read('storage.cfg'), 'storage.cfg');
  const byId = Object.fromEntries(storages.map((s) => [s.id, s]));

  it('reads every section with its type, line and options, in file order', () => {
    expect(storages.map((s) => `${s.type}:${s.id}@${s.line}`)).toEqual([
      'dir:local@1',
      'lvmthin:local-lvm@5',
      'lvm:san1@10',
      'lvm:san1-raw@17',
      'lvm:san2@22',
      'dir:nfs-images@29',
    ]);
    expect(byId['local-lvm']?.options).toEqual({
      thinpool: 'data',
      vgname: 'pve',
      content: 'rootdir,images',
    });
    expect(byId['nfs-images']?.options['prune-backups']).toBe('keep-all=1');
  });

  it('maps one VG to the two storage IDs that use it, with their flags', () => {
    expect(storages.filter((s) => s.vgname === 'vg_san1').map((s) => s.id)).toEqual(['san1', 'san1-raw']);
    expect(byId.san1).toMatchObject({
      shared: true,
      snapshotAsVolumeChain: true,
      content: ['images'],
      disable: false,
    });
    expect(byId.san1?.nodes).toBeUndefined();
    expect(byId['san1-raw']).toMatchObject({
      shared: true,
      snapshotAsVolumeChain: false,
      content: ['rootdir', 'images'],
    });
  });

  it('reads a bare flag as set, and a node list', () => {
    expect(byId.san2).toMatchObject({ vgname: 'vg_san2', disable: true, nodes: ['pve1', 'pve2'] });
    expect(byId.local).toMatchObject({
      path: '/var/lib/vz',
      shared: false,
      content: ['iso', 'vztmpl', 'backup'],
    });
    expect(byId['nfs-images']).toMatchObject({
      path: '/mnt/pve/nfs-images',
      shared: true,
      snapshotAsVolumeChain: true,
    });
  });

  it('names the file and line of what it cannot read', () => {
    expect(() => parseStorageCfg('lvm: a1\n\tvgname x\n\tshared yes\n', '/etc/pve/storage.cfg')).toThrow(
      '/etc/pve/storage.cfg:3: shared must be 0 or 1, not "yes"',
    );
    expect(() => parseStorageCfg('lvm: a1\n\tvgname x\n\nlvm: a1\n', 's.cfg')).toThrow(
      's.cfg:4: storage "a1" is defined twice',
    );
    expect(() => parseStorageCfg('\tvgname x\n', 's.cfg')).toThrow(
      's.cfg:1: an option outside any storage section',
    );
    expect(() => parseStorageCfg('lvm: a1\n\tvgname\n', 's.cfg')).toThrow('s.cfg:2: "vgname" has no value');
    expect(() => parseStorageCfg('lvm a1\n', 's.cfg')).toThrow('s.cfg:1: neither');
  });
});

describe('.vmlist', () => {
  it('says which node holds each VM and container', () => {
    const list = parseVmList(read('.vmlist'), '.vmlist');
    expect(list.version).toBe(42);
    expect(list.ids).toEqual({
      '101': { node: 'pve1', type: 'qemu', version: 17 },
      '102': { node: 'pve1', type: 'qemu', version: 9 },
      '201': { node: 'pve2', type: 'qemu', version: 23 },
      '300': { node: 'pve2', type: 'lxc', version: 4 },
    });
  });

  it('names the line of a bad entry', () => {
    expect(() =>
      parseVmList(
        '{\n"version": 1,\n"ids": {\n"101": { "node": "pve1", "type": "kvm", "version": 1 }}\n}\n',
        '/etc/pve/.vmlist',
      ),
    ).toThrow(/^\/etc\/pve\/\.vmlist:4: ids\.101\.type: /);
    expect(() => parseVmList('{"version": 1,\n"ids": {', 'v')).toThrow(/^v:2: not JSON/);
  });
});

describe('qemu-server VM configs', () => {
  it('reads the main section: description, parent, disks and their sizes', () => {
    const web = vm('pve1', 101);
    expect(web.vmid).toBe(101);
    expect(web.main.line).toBe(1);
    expect(web.main.description).toBe('Web front end: nginx + php-fpm\nOwner: café team');
    expect(web.main.parent).toBe('before-upgrade');
    expect(web.main.lock).toBeUndefined();
    expect(web.main.options.name).toBe('web');
    expect(web.main.disks.map((d) => [d.key, d.line, d.volume, d.size, d.media])).toEqual([
      ['ide2', 7, undefined, undefined, 'cdrom'],
      ['scsi0', 15, { storage: 'san1', volname: 'vm-101-disk-0.qcow2' }, 32 * 2 ** 30, undefined],
      ['scsi1', 16, { storage: 'san1', volname: 'vm-101-disk-1.qcow2' }, 8 * 2 ** 30, undefined],
      ['unused0', 20, { storage: 'san1', volname: 'vm-101-disk-2.qcow2' }, undefined, undefined],
    ]);
    expect(web.main.disks[1]?.options).toEqual({ iothread: '1', size: '32G' });
  });

  it('reads snapshot sections with their parent, time, description and saved RAM state', () => {
    const { snapshots } = vm('pve1', 101);
    expect(Object.keys(snapshots)).toEqual(['first-boot', 'before-upgrade']);
    expect(snapshots['first-boot']).toMatchObject({
      line: 23,
      description: 'clean install',
      snaptime: 1760003600,
    });
    expect(snapshots['first-boot']?.parent).toBeUndefined();
    expect(snapshots['first-boot']?.vmstate).toBeUndefined();
    expect(snapshots['before-upgrade']).toMatchObject({
      line: 44,
      description: 'before the 9.1 upgrade\nwith RAM',
      parent: 'first-boot',
      snaptime: 1764500000,
      vmstate: 'san1:vm-101-state-before-upgrade',
      runningmachine: 'pc-i440fx-10.0+pve0',
    });
    expect(snapshots['before-upgrade']?.disks.map((d) => d.volume?.volname)).toEqual([
      undefined,
      'vm-101-disk-0.qcow2',
      'vm-101-disk-1.qcow2',
    ]);
  });

  it('reads an operation in progress: the lock and the snapshot state', () => {
    const db = vm('pve1', 102);
    expect(db.main.lock).toBe('snapshot');
    expect(db.main.description).toBeUndefined();
    expect(db.snapshots.upgrade).toMatchObject({
      snapstate: 'prepare',
      parent: 'nightly',
      snaptime: 1764900000,
    });
    expect(db.snapshots.nightly?.snapstate).toBeUndefined();
    expect(db.main.disks.map((d) => [d.key, d.volume?.storage, d.volume?.volname, d.size])).toEqual([
      ['efidisk0', 'san1', 'vm-102-disk-2.qcow2', 528 * 1024],
      ['virtio0', 'san1', 'vm-102-disk-0.qcow2', 16 * 2 ** 30],
      ['virtio1', 'nfs-images', '102/vm-102-disk-1.qcow2', 4 * 2 ** 30],
    ]);
  });

  it('skips a [PENDING] section: it is not a snapshot', () => {
    const ci = vm('pve2', 201);
    expect(ci.snapshots).toEqual({});
    expect(ci.main.options.memory).toBe('8192');
    expect(ci.main.description).toBe('build runner');
    expect(ci.main.disks.map((d) => d.volume)).toEqual([
      { storage: 'san1-raw', volname: 'vm-201-disk-0' },
      { storage: 'san1', volname: 'vm-201-disk-1.qcow2' },
    ]);
  });

  it('names the file and line of what it cannot read', () => {
    expect(() =>
      parseVmConfig('name: a\n\n[s1]\nsnaptime: soon\n', 7, '/etc/pve/qemu-server/7.conf'),
    ).toThrow('/etc/pve/qemu-server/7.conf:4: snaptime "soon" is not seconds since the epoch');
    expect(() => parseVmConfig('scsi0: san1:vm-7-disk-0.qcow2,size=lots\n', 7, '7.conf')).toThrow(
      '7.conf:1: scsi0: size "lots" is not a size such as 32G',
    );
    expect(() => parseVmConfig('name: a\n[s1]\n[s1]\n', 7, '7.conf')).toThrow(
      '7.conf:3: snapshot "s1" appears twice',
    );
    expect(() => parseVmConfig('name a\n', 7, '7.conf')).toThrow(
      '7.conf:1: "name a" is not a "key: value" line',
    );
  });
});
