/**
 * Plans against a VG in the lab VM over ssh: names survive ssh quoting, bad input changes
 * nothing, a VG is created only on blank devices, a plan that does not fit is refused, the
 * number of remote commands grows with VGs rather than disks, and a chain made with Proxmox VE 9
 * commands is imported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { useLab } from '../lab/vm.js';
import { LvmLab, labExecutor, must, remoteView } from '../helpers/lvmlab.js';
import { lvchain } from '../helpers/cli.js';

describe('LVM plans over ssh', () => {
  const lab = useLab({
    disks: [{ sizeMiB: 640 }, { sizeMiB: 64 }, { sizeMiB: 64 }, { sizeMiB: 64 }, { sizeMiB: 256 }],
  });
  const labs: LvmLab[] = [];
  const lvmLab = async (vg: string, device: string | undefined, create = true) => {
    const l = await LvmLab.create(lab(), vg, device, create);
    labs.push(l);
    return l;
  };
  afterAll(async () => Promise.all(labs.map((l) => l.dispose())));

  describe('ssh quoting', () => {
    it('delivers names with quotes, ;, $(…), newlines and spaces as one literal argument each', async () => {
      const vm = lab();
      const ex = labExecutor(vm);
      try {
        const nasty = [
          "it's",
          'a;b',
          '$(touch /tmp/pwned)',
          '`touch /tmp/pwned`',
          'line1\nline2',
          'two words',
          '*',
          '',
          '-n',
        ];
        const one = await ex.run(['printf', '[%s]\\n', ...nasty]);
        expect(one.stdout).toBe(nasty.map((n) => `[${n}]\n`).join(''));
        const batch = await ex.runBatch([
          ['printf', '%s', nasty[0] as string],
          ['printf', '%s', nasty[4] as string],
          ['sh', '-c', 'echo out; echo err >&2; exit 7'],
        ]);
        expect(batch.map((r) => [r.exitCode, r.stdout, r.stderr])).toEqual([
          [0, "it's", ''],
          [0, 'line1\nline2', ''],
          [7, 'out\n', 'err\n'],
        ]);
        expect((await ex.run(['test', '-e', '/tmp/pwned'])).exitCode, 'nothing was executed').toBe(1);
        // A command bound to a directory runs only where that directory is.
        const guarded = await ex.runBatch([
          { argv: ['touch', '/tmp/guard-ran'], ifDirectory: "/no such dir's" },
          { argv: ['printf', '%s', 'ran'], ifDirectory: '/tmp' },
        ]);
        expect(guarded.map((r) => [r.exitCode, r.stdout, r.stderr])).toEqual([
          [1, '', ''],
          [0, 'ran', ''],
        ]);
        expect(
          (await ex.run(['test', '-e', '/tmp/guard-ran'])).exitCode,
          'the guarded touch did not run',
        ).toBe(1);
      } finally {
        await ex.close();
      }
    });
  });

  describe('bad input changes nothing', () => {
    let main: LvmLab;
    beforeAll(async () => {
      main = await lvmLab('vg_plan', lab().devices[0]);
    });

    it('an unknown VG', async () => {
      const l = await lvmLab('vg_nope', undefined, false);
      await l.writeConfig({ disks: { 'vm-500-disk-0': { storage: 'vg_nope', size: '8MiB' } } });
      const before = await main.lvs();
      const r = await l.run(['plan']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout + r.stderr).toContain('volume group vg_nope does not exist on host lab');
      expect((await l.run(['apply', '--auto-approve'])).exitCode).toBe(1);
      expect(await main.lvs()).toEqual(before);
    });

    it('an unreachable host', async () => {
      const l = await lvmLab('vg_plan', undefined, false);
      await writeFile(
        l.configPath,
        stringify({
          version: 1,
          hosts: { gone: { ssh: { host: '127.0.0.1', user: 'root', port: 1 } } },
          volumeGroups: { vg_plan: { host: 'gone' } },
          disks: { 'vm-500-disk-0': { storage: 'vg_plan', size: '8MiB' } },
        }),
      );
      const r = await l.run(['plan']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/cannot reach root@127\.0\.0\.1:1: .*Connection refused/);
      expect(r.stderr).not.toContain('internal error');
    });

    it('a device that is not blank for pvs:', async () => {
      const vm = lab();
      const used = vm.devices[3] as string;
      await must(vm, ['pvcreate', '-y', used]);
      const l = await lvmLab('vg_new', undefined, false);
      await l.writeConfig(
        { disks: { 'vm-501-disk-0': { storage: 'vg_new', size: '8MiB' } } },
        { pvs: [used] },
      );
      const r = await l.run(['plan']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout + r.stderr).toContain(
        `volume group vg_new cannot be created: ${used} is not blank: LVM2_member`,
      );
      expect((await l.run(['apply', '--auto-approve'])).exitCode).toBe(1);
      expect((await vm.run(['vgs', 'vg_new'])).exitCode, 'no VG was created').not.toBe(0);
      expect((await vm.run(['pvs', '--noheadings', '-o', 'vg_name', used])).stdout.trim()).toBe('');
    });
  });

  it('creates a VG on blank devices, then the disks on it', async () => {
    const vm = lab();
    const blank = vm.devices[2] as string;
    const l = await lvmLab('vg_fresh', undefined, false);
    await l.writeConfig(
      { disks: { 'vm-502-disk-0': { storage: 'vg_fresh', size: '8MiB', snapshots: { s1: {} } } } },
      { pvs: [blank] },
    );
    const plan = await l.run(['plan', '--detailed-exitcode']);
    expect(plan.exitCode, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('vg.vg_fresh will be created');
    // A volume group is shown as one, with its devices, not as a snapshot of no disk.
    expect(plan.stdout).toContain('  + volume_group "vg_fresh" {');
    expect(plan.stdout).toContain(`+ devices = ["${blank}"]`);
    expect(plan.stdout).not.toContain('"@vg_fresh"');
    expect(plan.stdout).toContain(`$ pvcreate --yes ${blank}`);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    expect([...(await l.lvs()).keys()].sort()).toEqual([
      'snap_vm-502-disk-0_s1.qcow2',
      'vm-502-disk-0.qcow2',
    ]);
    expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
  });

  it('refuses a plan that does not fit, with the figures, and changes no LV', async () => {
    const small = await lvmLab('vg_small', lab().devices[1]);
    await small.writeConfig({
      disks: { 'vm-503-disk-0': { storage: 'vg_small', size: '16MiB', snapshots: { s1: {}, s2: {} } } },
    });
    const before = await small.lvs();
    const r = await small.run(['plan']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /Error: the plan does not fit on vg_small: free space would drop to -?\d+ MiB, below the reserve of \d+ MiB/,
    );
    expect(r.stdout).toMatch(/size 60 MiB, free now 60 MiB, lowest point -?\d+ MiB/);
    expect(r.stdout).toContain('REFUSED');
    expect((await small.run(['apply', '--auto-approve'])).exitCode).toBe(1);
    expect(await small.lvs()).toEqual(before);
    // Without the snapshots it fits.
    await small.writeConfig({ disks: { 'vm-503-disk-0': { storage: 'vg_small', size: '16MiB' } } });
    expect((await small.run(['plan'])).exitCode).toBe(0);
  });

  describe('remote commands per plan grow with VGs, not disks', () => {
    let l: LvmLab;
    const disks = (n: number, snap?: string) =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => [
          `vm-${600 + i}-disk-0`,
          { storage: 'vg_plan', size: '2MiB', ...(snap ? { snapshots: { [snap]: {} } } : {}) },
        ]),
      );
    beforeAll(async () => {
      l = await lvmLab('vg_plan', undefined, false);
    });

    async function roundTrips(n: number, snap?: string): Promise<{ trips: number; commands: string[][] }> {
      await l.writeConfig({ disks: disks(n, snap) });
      const log = join(l.dir, `commands-${n}-${snap ?? 'none'}.ndjson`);
      await rm(log, { force: true });
      const r = await lvchain(['-c', l.configPath, '--command-log', log, 'plan'], { cwd: l.dir });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const events = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { host: string; argv: string[] });
      const remote = events.filter((e) => e.host !== 'local');
      return { trips: remote.length, commands: remote.map((e) => e.argv) };
    }

    it('is the same for 5 and for 50 disks, and runs no per-disk qemu-img without a merge', async () => {
      await l.writeConfig({ disks: disks(5) });
      await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
      const five = await roundTrips(5);
      const fiveSnap = await roundTrips(5, 'pre');
      await l.writeConfig({ disks: disks(50) });
      await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
      const fifty = await roundTrips(50);
      const fiftySnap = await roundTrips(50, 'pre');
      expect(five.trips).toBe(1);
      expect(fifty.trips).toBe(five.trips);
      expect(fiftySnap.trips).toBe(fiveSnap.trips);
      for (const { commands } of [fiveSnap, fiftySnap]) {
        const perDisk = commands.filter((c) => c[0] === 'qemu-img' && c[1] !== 'measure');
        expect(perDisk, 'no qemu-img info or map when nothing needs a merge estimate').toEqual([]);
      }
    }, 300_000);
  });

  describe('import of a chain made with Proxmox VE 9 commands', () => {
    const DISK = 'vm-401-disk-0';
    let l: LvmLab;
    let digests: { base: string; top: string };

    beforeAll(async () => {
      const vm = lab();
      l = await lvmLab('vg_pve', vm.devices[4]);
      const dev = (lv: string) => l.dev(lv);
      // Exactly Proxmox's command lines (reference proxmox-ve9-volume-chain §2–§4).
      const measured = JSON.parse(
        (await must(vm, ['qemu-img', 'measure', '--output=json', '--size', '16384K', '-O', 'qcow2'])).stdout,
      ) as { 'fully-allocated': number };
      const kib = Math.ceil(measured['fully-allocated'] / 1024);
      const lvcreate = [
        'lvcreate',
        '-aly',
        '-Wy',
        '--yes',
        '--size',
        `${kib}k`,
        '--name',
        `${DISK}.qcow2`,
        '--setautoactivation',
        'n',
        '--addtag',
        'pve-vm-401',
        '--addtag',
        `@pve-${DISK}.qcow2`,
        'vg_pve',
      ];
      await must(vm, lvcreate);
      await must(vm, [
        'qemu-img',
        'create',
        '-o',
        'preallocation=metadata',
        '-f',
        'qcow2',
        dev(`${DISK}.qcow2`),
        '16384K',
      ]);
      await must(vm, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x41 0 2M', dev(`${DISK}.qcow2`)]);
      await must(vm, ['lvrename', 'vg_pve', `${DISK}.qcow2`, `snap_${DISK}_pre.qcow2`]);
      await must(vm, lvcreate);
      await must(vm, [
        'qemu-img',
        'create',
        '-F',
        'qcow2',
        '-b',
        `snap_${DISK}_pre.qcow2`,
        '-f',
        'qcow2',
        dev(`${DISK}.qcow2`),
        '-o',
        'extended_l2=on,cluster_size=128k,preallocation=metadata',
      ]);
      await must(vm, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x42 1M 2M', dev(`${DISK}.qcow2`)]);
      digests = {
        base: (await remoteView(vm, dev(`snap_${DISK}_pre.qcow2`), 0xe7)).digest,
        top: (await remoteView(vm, dev(`${DISK}.qcow2`), 0xe7)).digest,
      };
    });

    it('adds lvchain tags and changes nothing else', async () => {
      await l.writeConfig({
        disks: { [DISK]: { storage: 'vg_pve', size: '16MiB', snapshots: { pre: {} } } },
      });
      const plan = await l.run(['plan']);
      expect(plan.stdout).toMatch(
        /not_owned: found 2 layer\(s\) without lvchain metadata; adopt the chain with "lvchain import"/,
      );
      const before = await l.lvs();
      const r = await l.run(['import', 'vg_pve', DISK, '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const after = await l.lvs();
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [name, lv] of after) {
        const was = before.get(name);
        expect({ uuid: lv.uuid, size: lv.size, attr: lv.attr }).toEqual({
          uuid: was?.uuid,
          size: was?.size,
          attr: was?.attr,
        });
        expect(lv.tags.filter((t) => !t.startsWith('lvchain.'))).toEqual(was?.tags);
        expect(lv.tags).toContain(`lvchain.disk=${DISK}`);
      }
      expect(after.get(`snap_${DISK}_pre.qcow2`)?.tags).toEqual(
        expect.arrayContaining(['lvchain.snap=pre', 'lvchain.kind=pinned', 'lvchain.size=16777216']),
      );
      expect((await remoteView(lab(), l.dev(`snap_${DISK}_pre.qcow2`), 0xe7)).digest).toBe(digests.base);
      expect((await remoteView(lab(), l.dev(`${DISK}.qcow2`), 0xe7)).digest).toBe(digests.top);
      expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
    });

    it('then plan and apply manage it: a new snapshot, and the imported one merged away', async () => {
      await l.writeConfig({
        disks: { [DISK]: { storage: 'vg_pve', size: '16MiB', snapshots: { after: {} } } },
      });
      const plan = await l.run(['plan']);
      expect(plan.stdout).toContain(`snapshot.${DISK}@after will be created`);
      expect(plan.stdout).toContain(`snapshot.${DISK}@pre will be merged away`);
      // Proxmox's base preallocates every cluster as data, so streaming it would copy the whole disk.
      expect(plan.stdout).toMatch(/merge: commit \(cheaper\)/);
      await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
      expect([...(await l.lvs()).keys()].sort()).toEqual([`snap_${DISK}_after.qcow2`, `${DISK}.qcow2`]);
      expect((await remoteView(lab(), l.dev(`snap_${DISK}_after.qcow2`), 0xe7)).digest).toBe(digests.top);
      expect((await remoteView(lab(), l.dev(`${DISK}.qcow2`), 0xe7)).digest).toBe(digests.top);
      expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
    });
  });
});
