/**
 * Two Proxmox VE nodes on one VG (issue 11, acceptance 3): the lab VM booted twice over the same
 * disk file as `pve1` and `pve2` (test/lab/two-nodes.ts), with one node tree written on both in
 * place of pmxcfs and the `qm` stand-in (test/lab/qm, not Proxmox's qm) answering `qm status`.
 * VM 201 runs on pve2: a qemu-storage-daemon there holds its chain, activated as Proxmox
 * activates it, with Proxmox's pid file. VM 101 is on pve1, stopped. lvchain runs against pve1
 * and may ask pve2 (`proxmox: { node: pve2 }`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { CLI } from '../helpers/cli.js';
import { join } from 'node:path';
import { labHostConfig, type LabVm } from '../lab/vm.js';
import { startTwoNodes, type TwoNodes } from '../lab/two-nodes.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';

const VG = 'vg_pve';
const A = 'vm-201-disk-0';
const B = 'vm-101-disk-0';
const MiB = 1024 * 1024;
const NBD = '/run/qsd-201.sock';
const PIDFILE = '/var/run/qemu-server/201.pid';
const BOOT_MS = 300_000;

/** Proxmox's activation of a qcow2 chain, as pve-storage runs it (reference §3, §8). */
const select = (disk: string) => `vg_name = "${VG}" && lv_name =~ '^(${disk}|snap_${disk}_.+)\\.qcow2$'`;

const conf = (disk: string) =>
  `boot: order=scsi0\nmemory: 512\nname: vm-${disk.slice(3, 6)}\nscsi0: san1:${disk}.qcow2,size=16M\nscsihw: virtio-scsi-single\n`;

const TREE = {
  'storage.cfg': `lvm: san1\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n\tsnapshot-as-volume-chain 1\n`,
  '.vmlist': JSON.stringify({
    version: 3,
    ids: {
      '101': { node: 'pve1', type: 'qemu', version: 1 },
      '201': { node: 'pve2', type: 'qemu', version: 2 },
    },
  }),
  'nodes/pve1/qemu-server/101.conf': conf(B),
  'nodes/pve2/qemu-server/201.conf': conf(A),
};

// Explicit and long: two VMs boot, and under load one boot alone can take minutes.
describe(
  'two Proxmox nodes on one VG: a VM running on pve2 is left alone from pve1',
  { timeout: 300_000 },
  () => {
    let nodes: TwoNodes;
    let l: LvmLab;
    let pve1: LabVm;
    let pve2: LabVm;

    const config = (snaps: string[], askPve2 = true) =>
      l.writeConfig({
        hosts: {
          lab: { ...labHostConfig(pve1), proxmox: { node: 'pve1' } },
          ...(askPve2 ? { pve2: { ...labHostConfig(pve2), proxmox: { node: 'pve2' } } } : {}),
        },
        disks: Object.fromEntries(
          [A, B].map((d) => [
            d,
            { storage: VG, size: '16MiB', snapshots: Object.fromEntries(snaps.map((s) => [s, {}])) },
          ]),
        ),
      });

    /** name → attr of the disk's LVs as a node sees them. */
    const lvsOf = async (vm: LabVm, disk: string) => {
      const r = await must(vm, ['lvs', '--noheadings', '-o', 'lv_name,lv_uuid,lv_attr,lv_tags', VG]);
      return r.stdout
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter(([name]) => name?.includes(disk))
        .map(([name, uuid, attr, tags]) => ({ name, uuid, attr, tags: tags ?? '' }))
        .sort((x, y) => (String(x.name) < String(y.name) ? -1 : 1));
    };
    const active = (attr: string | undefined) => attr?.[4] === 'a';
    const nbdRead = (pattern: number, offset: number) =>
      pve2.run([
        'qemu-io',
        '-r',
        '-f',
        'raw',
        `nbd+unix:///${A}?socket=${NBD}`,
        '-c',
        `read -P 0x${pattern.toString(16)} ${offset} ${MiB}`,
      ]);

    beforeAll(async () => {
      nodes = await startTwoNodes(1024, BOOT_MS);
      ({ pve1, pve2 } = nodes);
      await nodes.writeTree(TREE);
      l = await LvmLab.create(pve1, VG, pve1.devices[0]);
      // Both disks are made from pve1 while neither VM runs.
      await config(['s1']);
      const made = await l.run(['apply', '--auto-approve']);
      expect(made.exitCode, made.stdout + made.stderr).toBe(0);
      // VM 101's data, written on pve1 as its own node would, chain deactivated again after.
      await must(pve1, ['lvchange', '-aey', '--select', select(B)]);
      await must(pve1, ['qemu-io', '-c', `write -P 0xb1 0 ${MiB}`, `/dev/${VG}/${B}.qcow2`]);
      await must(pve1, ['lvchange', '-aln', '--select', select(B)]);
      // VM 201 starts on pve2: Proxmox activates its chain there, then QEMU (here a storage
      // daemon exporting the disk over NBD in place of the guest) runs with Proxmox's pid file.
      await must(pve2, ['lvchange', '-aey', '--select', select(A)]);
      await must(pve2, ['lvchange', '--refresh', '--select', select(A)]);
      await must(pve2, ['qemu-io', '-c', `write -P 0xa1 0 ${MiB}`, `/dev/${VG}/${A}.qcow2`]);
      await must(pve2, [
        'qemu-storage-daemon',
        '--daemonize',
        '--pidfile',
        PIDFILE,
        '--blockdev',
        `driver=host_device,node-name=${A}-file,filename=/dev/${VG}/${A}.qcow2,cache.direct=on`,
        '--blockdev',
        `driver=qcow2,node-name=${A}-top,file=${A}-file`,
        '--nbd-server',
        `addr.type=unix,addr.path=${NBD}`,
        '--export',
        `type=nbd,id=${A},node-name=${A}-top,name=${A},writable=on`,
      ]);
      await must(pve2, [
        'qemu-io',
        '-f',
        'raw',
        `nbd+unix:///${A}?socket=${NBD}`,
        '-c',
        `write -P 0xa2 ${MiB} ${MiB}`,
      ]);
    }, 900_000);
    afterAll(async () => {
      await l?.dispose();
      await nodes?.stop();
    }, 60_000);

    it('the qm stand-in answers qm status as Proxmox would, and refuses anything else', async () => {
      expect((await must(pve2, ['qm', 'status', '201'])).stdout).toBe('status: running\n');
      expect((await must(pve1, ['qm', 'status', '101'])).stdout).toBe('status: stopped\n');
      const elsewhere = await pve1.run(['qm', 'status', '201']);
      expect(elsewhere.exitCode).toBe(2);
      expect(elsewhere.stderr).toContain(
        "Configuration file 'nodes/pve1/qemu-server/201.conf' does not exist",
      );
      // VM 201 runs on pve2: the stand-in does snapshots of stopped VMs only.
      const running = await pve2.run(['qm', 'snapshot', '201', 's1']);
      expect(running.exitCode).toBe(2);
      expect(running.stderr).toContain(
        'qm stand-in (lvchain lab): VM 201 is running: the live path is not implemented by the stand-in',
      );
      const unknown = await pve2.run(['qm', 'clone', '201', '202']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain(
        "qm stand-in (lvchain lab): 'qm clone 201 202' is not implemented by the stand-in",
      );
    });

    it('apply from pve1 left the new chains inactive on pve1 (a node deactivates after use)', async () => {
      // Checked on the state beforeAll's apply made, before VM 201's chain was activated on pve2.
      const b = await lvsOf(pve1, B);
      expect(b.map((x) => x.name)).toEqual([`snap_${B}_s1.qcow2`, `${B}.qcow2`]);
      expect(b.filter((x) => active(x.attr))).toEqual([]);
    });

    it('plan shows the disk of VM 201 as running on pve2 (text, Markdown, JSON), and plans VM 101', async () => {
      await config(['s2']);
      const out = join(l.dir, 'plan.json');
      const md = join(l.dir, 'plan.md');
      const plan = await l.run(['plan', '--out', out, '--markdown', md]);
      expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
      const reason = `disk.${A} is left alone: VM 201 is running on pve2`;
      expect(plan.stdout).toContain(reason);
      expect(await readFile(md, 'utf8')).toContain('VM 201 is running on pve2');
      const saved = JSON.parse(await readFile(out, 'utf8')) as {
        diagnostics: { code?: string; address?: string; summary: string }[];
        resource_changes: { address: string; disk: string }[];
      };
      expect(saved.diagnostics.filter((d) => d.code === 'running_elsewhere')).toEqual([
        expect.objectContaining({ address: `disk.${A}`, summary: expect.stringContaining(reason) }),
      ]);
      expect(saved.resource_changes.filter((c) => c.disk === A)).toEqual([]);
      expect(saved.resource_changes.map((c) => c.address).sort()).toEqual([
        `snapshot.${B}@s1`,
        `snapshot.${B}@s2`,
      ]);
    });

    it('counts VM 201 as running when no declared host is pve2, and says why', async () => {
      await config(['s2'], false);
      const plan = await l.run(['plan']);
      expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
      expect(plan.stdout).toContain(
        `disk.${A} is left alone: VM 201 is on pve2 and counts as running there: no host in the config is Proxmox node pve2`,
      );
    });

    it('apply from pve1 never touches VM 201’s chain; VM 101’s is changed, reads back, and is inactive again', async () => {
      await config(['s2']);
      const beforeA = await lvsOf(pve1, A);
      expect(beforeA.map((x) => x.name)).toEqual([`snap_${A}_s1.qcow2`, `${A}.qcow2`]);
      const log = join(l.dir, 'apply-commands.ndjson');
      const apply = await l.run(['--command-log', log, 'apply', '--auto-approve']);
      expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
      expect(apply.stdout).toContain('VM 201 is running on pve2');

      // pve1 never ran a command naming VM 201's LVs (the batched ones included), and its LVs
      // are as they were: same names, uuids, tags, and not active on pve1.
      const commands = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .flatMap((line) => {
          const e = JSON.parse(line) as { argv: string[]; commands?: string[][] };
          return [e.argv, ...(e.commands ?? [])].map((a) => a.join(' '));
        });
      // The one command that names the disk at all is the read of the VM configs that finds
      // which VM owns it; none names an LV of it.
      const naming = commands.filter((c) => c.includes(A));
      expect(naming.length).toBeGreaterThan(0);
      expect(naming.filter((c) => !c.startsWith('grep -r -H -n -F --include=*.conf '))).toEqual([]);
      // It asked pve2 about VM 201.
      expect(commands.some((c) => c.includes('qm status 201'))).toBe(true);
      const afterA = await lvsOf(pve1, A);
      expect(afterA).toEqual(beforeA);
      expect(afterA.filter((x) => active(x.attr))).toEqual([]);

      // VM 201's QEMU on pve2 still reads what it and its disk held.
      expect((await must(pve2, ['qm', 'status', '201'])).stdout).toBe('status: running\n');
      for (const [pattern, offset] of [
        [0xa1, 0],
        [0xa2, MiB],
      ] as const) {
        const r = await nbdRead(pattern, offset);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout, `0x${pattern.toString(16)} at ${offset}`).not.toContain(
          'Pattern verification failed',
        );
        expect(r.stdout).toContain(`read ${MiB}/${MiB} bytes`);
      }

      // VM 101: s1 merged away, s2 taken, every LV inactive on pve1, and its data intact.
      const b = await lvsOf(pve1, B);
      expect(b.map((x) => x.name)).toEqual([`snap_${B}_s2.qcow2`, `${B}.qcow2`]);
      expect(b.filter((x) => active(x.attr))).toEqual([]);
      await must(pve1, ['lvchange', '-aey', '--select', select(B)]);
      try {
        const view = await remoteView(pve1, `/dev/${VG}/${B}.qcow2`, 0xb1);
        expect(view.markers).toBe(MiB);
        const s2 = await remoteView(pve1, `/dev/${VG}/snap_${B}_s2.qcow2`, 0xb1);
        expect(s2.digest).toBe(view.digest);
      } finally {
        await must(pve1, ['lvchange', '-aln', '--select', select(B)]);
      }

      // pve2 sees pve1's metadata change on its next LVM command (no lvmetad, no lvmlockd).
      expect((await lvsOf(pve2, B)).map((x) => x.name)).toEqual([`snap_${B}_s2.qcow2`, `${B}.qcow2`]);
    });

    it('a killed apply leaves VM 101’s chain active, harmlessly; the next apply finishes it and deactivates it', async () => {
      await config(['s2', 's3']);
      const killed = execa('node', [CLI, '-c', l.configPath, 'apply', '--auto-approve', '--json'], {
        cwd: l.dir,
        reject: false,
        detached: true,
        stdin: 'ignore',
        env: { NO_COLOR: '1' },
      });
      // The new top is being formatted: created and active, the storage lock already released.
      await new Promise<void>((resolve) => {
        killed.stdout?.on('data', (chunk: Buffer) => {
          if (/"step_start".*"kind":"format"|"kind":"format".*"step_start"/.test(chunk.toString())) resolve();
        });
        void killed.then(() => resolve());
      });
      process.kill(-(killed.pid as number), 'SIGKILL');
      await killed;
      const left = await lvsOf(pve1, B);
      expect(left.filter((x) => active(x.attr)).length, 'the killed run left LVs active').toBeGreaterThan(0);
      const plan = await l.run(['plan']);
      expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
      // A lock directory the kill left behind expires after 120 s, as pmxcfs's would.
      const resumed = await l.run(['apply', '--auto-approve', '--lock-timeout', '3m']);
      expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
      const b = await lvsOf(pve1, B);
      expect(b.map((x) => x.name)).toEqual([`snap_${B}_s2.qcow2`, `snap_${B}_s3.qcow2`, `${B}.qcow2`]);
      expect(b.filter((x) => active(x.attr))).toEqual([]);
      await must(pve1, ['lvchange', '-aey', '--select', select(B)]);
      try {
        expect((await remoteView(pve1, `/dev/${VG}/${B}.qcow2`, 0xb1)).markers).toBe(MiB);
      } finally {
        await must(pve1, ['lvchange', '-aln', '--select', select(B)]);
      }
      expect((await lvsOf(pve1, A)).filter((x) => active(x.attr))).toEqual([]);
    });

    it('once VM 201 stops on pve2, pve1 handles its disk too, and its data reads back', async () => {
      await must(pve2, [
        'sh',
        '-c',
        `p=$(cat ${PIDFILE}); kill "$p"; while [ -e "/proc/$p" ]; do sleep 0.1; done`,
      ]);
      await must(pve2, ['lvchange', '-aln', '--select', select(A)]);
      expect((await must(pve2, ['qm', 'status', '201'])).stdout).toBe('status: stopped\n');
      await config(['s3']);
      const apply = await l.run(['apply', '--auto-approve']);
      expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
      expect(apply.stdout).not.toContain('running on pve2');
      const a = await lvsOf(pve1, A);
      expect(a.map((x) => x.name)).toEqual([`snap_${A}_s3.qcow2`, `${A}.qcow2`]);
      expect(a.filter((x) => active(x.attr))).toEqual([]);
      await must(pve1, ['lvchange', '-aey', '--select', select(A)]);
      try {
        const view = await remoteView(pve1, `/dev/${VG}/${A}.qcow2`, 0xa1);
        expect(view.markers).toBe(MiB);
        expect((await remoteView(pve1, `/dev/${VG}/${A}.qcow2`, 0xa2)).markers).toBe(MiB);
      } finally {
        await must(pve1, ['lvchange', '-aln', '--select', select(A)]);
      }
    });
  },
);
