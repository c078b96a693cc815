/**
 * A guest that Proxmox VE manages (`vm: { proxmox: <vmid> }`) is changed only through Proxmox:
 * its snapshots through qm (test/lvm/proxmox-engine.test.ts), and anything else, here creating
 * its disk, not at all: plan and apply refuse instead of acting beside Proxmox, and leave other
 * disks plannable with --target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DirLab } from '../helpers/dirlab.js';

describe('vm: { proxmox } for what only Proxmox does', () => {
  let l: DirLab;
  beforeAll(async () => {
    l = await DirLab.create();
    await mkdir(l.storePath);
    await writeFile(
      l.configPath,
      stringify({
        version: 1,
        directories: { lab: { path: './store' } },
        guests: {
          web: { storage: 'lab', vm: { proxmox: 101 }, disks: { 'vm-101-disk-0': { size: '1MiB' } } },
        },
        disks: { 'vm-900-disk-0': { storage: 'lab', size: '1MiB' } },
      }),
    );
  });
  afterAll(async () => l?.dispose());

  it('refuses the plan and the apply, naming the VM and the changes, and writes nothing', async () => {
    for (const args of [['plan'], ['apply', '--auto-approve']]) {
      const r = await l.run(args);
      expect(r.exitCode, r.stdout + r.stderr).not.toBe(0);
      expect(r.stderr).toContain(
        'the plan would change disks of Proxmox VE VM 101 itself (disk.vm-101-disk-0: create)',
      );
      expect(r.stderr).toContain('Create, resize and remove the disks of a Proxmox VM with Proxmox');
    }
    // Only lvchain's own lock file: no image was made.
    expect((await readdir(l.storePath)).filter((n) => !n.startsWith('.lvchain'))).toEqual([]);
  });

  it('plans and applies the other disks with --target', async () => {
    const r = await l.run(['apply', '--auto-approve', '--target', 'disk.vm-900-disk-0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(await readdir(join(l.storePath, 'images'))).toEqual(['900']);
  });
});
