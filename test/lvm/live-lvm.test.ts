/**
 * The live engine on thick LVM over ssh (issue 10, "both backends"): qemu-storage-daemon runs
 * inside the lab VM holding a two-disk guest's LVs, as a VM's QEMU does on a Proxmox node, and
 * lvchain reaches its QMP socket through the ssh relay (socat on the host). Its NBD exports
 * stand in for the guest's writes. Snapshots switch both disks in one transaction, merges below
 * the top run as block jobs, and every view is read back inside the VM.
 *
 * The daemon cannot pause a guest, so the planner does not choose a commit of the top with it: the
 * commit of the top runs in a machine-less qemu-system-x86_64 in the lab VM, which can. QEMU 7.2
 * would crash streaming into lvchain's subclustered layers, so the merges here are commits; the
 * live stream is proven on directory storage. A grow exports the disk over FUSE, which lets QEMU
 * resize the node it exports, as a VM's virtio-blk device does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useLab, type LabVm } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { ExpectedDisk } from '../helpers/data.js';
import { pinned } from '../helpers/configs.js';
import {
  labGuestView,
  labGuestWrite,
  startLabStorageDaemon,
  type LabStorageDaemon,
} from '../helpers/lab-storage-daemon.js';
import type { Plan } from '../../src/model/plan.js';
import { fileOf } from '../../src/engines/qmp/graph.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const VG = 'vg_live';
const DISKS = ['vm-501-disk-0', 'vm-501-disk-1'];
const SIZE = 16 * 1024 * 1024;
const MiB = 1024 * 1024;

interface NodeInfo {
  'node-name': string;
  drv: string;
  file: string;
  ro: boolean;
}

/** One QMP query inside the lab VM, through socat as lvchain's relay does. */
async function qmpQuery<T>(
  vm: LabVm,
  socket: string,
  execute: string,
  args?: Record<string, unknown>,
): Promise<T> {
  const messages = [{ execute: 'qmp_capabilities' }, { execute, ...(args ? { arguments: args } : {}) }];
  const script = `printf '%s\\n' "$@" | socat -t 2 - UNIX-CONNECT:"$0"`;
  const out = (await must(vm, ['sh', '-c', script, socket, ...messages.map((m) => JSON.stringify(m))]))
    .stdout;
  // The greeting, qmp_capabilities' empty return, then the answer (events may come between).
  const replies = out
    .split('\n')
    .filter((l) => l.startsWith('{"return"'))
    .map((l) => JSON.parse(l) as { return: T });
  const reply = replies[1];
  if (!reply) throw new Error(`no answer to ${execute}: ${out}`);
  return reply.return;
}

describe('the live engine on thick LVM, over ssh', () => {
  const lab = useLab({ disks: [{ sizeMiB: 512 }] });
  let lvm: LvmLab;
  let qsd: LabStorageDaemon | undefined;

  beforeAll(async () => {
    lvm = await LvmLab.create(lab(), VG, lab().devices[0]);
  });
  afterEach(async () => {
    await qsd?.stop();
    qsd = undefined;
  });
  afterAll(async () => {
    await lvm?.dispose();
  });

  const top = (d: string) => lvm.dev(`${d}.qcow2`);
  const snap = (d: string, s: string) => lvm.dev(`snap_${d}_${s}.qcow2`);

  async function config(
    disks: readonly string[],
    snapshots: string[],
    vm?: Record<string, unknown>,
    size = '16MiB',
  ) {
    await lvm.writeConfig({
      guests: {
        web: {
          storage: VG,
          disks: Object.fromEntries(disks.map((d) => [d, { size }])),
          ...pinned(snapshots),
          ...(vm ? { vm } : {}),
        },
      },
    });
  }

  async function apply(): Promise<string> {
    const r = await lvm.run(['apply', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    return r.stdout;
  }

  /** What QEMU's graph names, as lvchain's relay reads it (a query through the ssh relay). */
  async function graph(): Promise<NodeInfo[]> {
    return qmpQuery<NodeInfo[]>(lab(), qsd?.qmp ?? '', 'query-named-block-nodes', { flat: true });
  }

  /** Every file a node names (also inside a json: filename's options) is an LV that exists now. */
  async function expectNoStaleNames(): Promise<void> {
    const lvs = await lvm.lvs();
    const named = (file: string): string[] =>
      file.startsWith('json:')
        ? [...file.matchAll(/"filename": "([^"]+)"/g)].map((m) => m[1] as string)
        : [file];
    const nodes = await graph();
    for (const n of nodes)
      for (const f of named(n.file))
        expect(lvs.has(f.replace(`/dev/${VG}/`, '')), `${n['node-name']} names ${f}`).toBe(true);
    expect(nodes.length).toBeGreaterThan(0);
  }

  it('snapshots a running two-disk guest in one transaction, then merges its oldest and a middle snapshot by block-commit; every view reads back', async () => {
    const vm = lab();
    await config(DISKS, []);
    await apply();
    const expected = DISKS.map(() => new ExpectedDisk(SIZE));
    qsd = await startLabStorageDaemon(vm, 'web', Object.fromEntries(DISKS.map((d) => [d, top(d)])));
    const live = { qmp: qsd.qmp, freeze: 'off' };
    const views = new Map<string, string[]>();
    const snaps = ['s1', 's2', 's3'];
    for (const [k, s] of snaps.entries()) {
      for (const [i, d] of DISKS.entries()) {
        await labGuestWrite(vm, qsd.nbd(d), k * MiB, MiB, 0x11 + 16 * k + i);
        expected[i]?.write(k * MiB, MiB, 0x11 + 16 * k + i);
      }
      await config(DISKS, snaps.slice(0, k + 1), live);
      if (k === 0) {
        const planned = await lvm.run(['plan', '--out', 'live.json']);
        expect(planned.exitCode, planned.stderr).toBe(0);
        const saved = JSON.parse(await readFile(join(lvm.dir, 'live.json'), 'utf8')) as Plan;
        const messages = saved.resource_changes
          .flatMap((c) => c.x_steps)
          .flatMap((st) => st.commands.flatMap((c) => (c.kind === 'qmp' ? [c] : [])));
        expect(messages.map((c) => c.message.execute)).toContain('transaction');
        expect(messages.every((c) => c.socket === qsd?.qmp)).toBe(true);
      }
      await apply();
      views.set(
        s,
        expected.map((e) => e.digest()),
      );
    }
    // The guest writes on into the tops.
    for (const [i, d] of DISKS.entries()) {
      await labGuestWrite(vm, qsd.nbd(d), 5 * MiB, MiB, 0x71 + i);
      expected[i]?.write(5 * MiB, MiB, 0x71 + i);
    }
    for (const [i, d] of DISKS.entries()) {
      for (const s of snaps) expect((await remoteView(vm, snap(d, s), 0)).digest).toBe(views.get(s)?.[i]);
      expect(await labGuestView(vm, qsd.nbd(d))).toBe(expected[i]?.digest());
    }
    await expectNoStaleNames();

    // Delete the oldest and a middle snapshot while the daemon runs.
    await config(DISKS, ['s3'], live);
    const planned = await lvm.run(['plan', '--out', 'merge.json']);
    expect(planned.exitCode, planned.stderr).toBe(0);
    const saved = JSON.parse(await readFile(join(lvm.dir, 'merge.json'), 'utf8')) as Plan;
    const jobs = saved.resource_changes
      .flatMap((c) => c.x_steps)
      .flatMap((st) => st.commands.flatMap((c) => (c.kind === 'qmp' ? [c.message.execute] : [])));
    // Both merges of both disks run as block jobs in the daemon, not as qemu-img beside it.
    expect(jobs.filter((j) => j === 'block-commit')).toHaveLength(4);
    const merged = await lvm.run(['apply', '--auto-approve', 'merge.json']);
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) {
      await labGuestWrite(vm, qsd.nbd(d), 7 * MiB, MiB, 0x91 + i);
      expected[i]?.write(7 * MiB, MiB, 0x91 + i);
    }
    const lvs = await lvm.lvs();
    for (const [i, d] of DISKS.entries()) {
      expect(lvs.has(`snap_${d}_s1.qcow2`)).toBe(false);
      expect(lvs.has(`snap_${d}_s2.qcow2`)).toBe(false);
      expect((await remoteView(vm, snap(d, 's3'), 0)).digest).toBe(views.get('s3')?.[i]);
      expect(await labGuestView(vm, qsd.nbd(d))).toBe(expected[i]?.digest());
    }
    await expectNoStaleNames();
    // The daemon was never stopped: it is the same process throughout.
    expect((await vm.run(['kill', '-0', String(qsd.pid)])).exitCode).toBe(0);

    await qsd.stop();
    qsd = undefined;
    const after = await lvm.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    for (const [i, d] of DISKS.entries())
      expect((await remoteView(vm, top(d), 0)).digest).toBe(expected[i]?.digest());
  });

  it('commits the top into the newest snapshot with a pivot, in a QEMU that can pause, the guest running on; renamed LVs are reattached', async () => {
    const vm = lab();
    const d = 'vm-504-disk-0';
    await config([d], []);
    await apply();
    const expected = new ExpectedDisk(SIZE);
    qsd = await startLabStorageDaemon(vm, 'pivot', { [d]: top(d) }, { process: 'system' });
    const live = { qmp: qsd.qmp, freeze: 'off' };
    const views = new Map<string, string>();
    for (const [k, s] of ['s1', 's2'].entries()) {
      await labGuestWrite(vm, qsd.nbd(d), k * MiB, MiB, 0x21 + k);
      expected.write(k * MiB, MiB, 0x21 + k);
      await config([d], ['s1', 's2'].slice(0, k + 1), live);
      await apply();
      views.set(s, expected.digest());
    }
    // What the guest writes now is in the top only: the commit moves it into s2's LV, and the
    // guest writes into that LV from the pivot on, under the disk's name.
    await labGuestWrite(vm, qsd.nbd(d), 4 * MiB, 2 * MiB, 0x51);
    expected.write(4 * MiB, 2 * MiB, 0x51);

    await config([d], ['s1'], live);
    const planned = await lvm.run(['plan', '--merge-direction', 'commit', '--out', 'pivot.json']);
    expect(planned.exitCode, planned.stderr).toBe(0);
    const saved = JSON.parse(await readFile(join(lvm.dir, 'pivot.json'), 'utf8')) as Plan;
    const messages = saved.resource_changes
      .flatMap((c) => c.x_steps)
      .flatMap((st) => st.commands.flatMap((c) => (c.kind === 'qmp' ? [c.message.execute] : [])));
    // An active commit: READY, the guest paused, the pivot, the guest resumed; then the renamed
    // LV's node is moved onto its new name.
    expect(messages).toEqual(expect.arrayContaining(['block-commit', 'stop', 'job-complete', 'cont']));
    expect(messages).toContain('blockdev-reopen');
    const merged = await lvm.run(['apply', '--auto-approve', 'pivot.json']);
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);

    await labGuestWrite(vm, qsd.nbd(d), 9 * MiB, MiB, 0x61);
    expected.write(9 * MiB, MiB, 0x61);
    expect(await labGuestView(vm, qsd.nbd(d))).toBe(expected.digest());
    const lvs = await lvm.lvs();
    expect(lvs.has(`snap_${d}_s2.qcow2`)).toBe(false);
    expect((await remoteView(vm, snap(d, 's1'), 0)).digest).toBe(views.get('s1'));
    await expectNoStaleNames();
    // The guest runs, in the same QEMU, on the LV that now has the disk's name.
    expect(await qmpQuery(vm, qsd.qmp, 'query-status')).toMatchObject({ status: 'running' });
    expect((await vm.run(['kill', '-0', String(qsd.pid)])).exitCode).toBe(0);
    const writable = (await graph()).filter((n) => n.drv === 'qcow2' && !n.ro);
    expect(writable.map((n) => fileOf(n))).toEqual([top(d)]);

    await qsd.stop();
    qsd = undefined;
    const after = await lvm.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect((await remoteView(vm, top(d), 0)).digest).toBe(expected.digest());
  });

  it('grows the disk of a running VM: the LV first, then block_resize; the guest sees and writes the new space', async () => {
    const vm = lab();
    const d = 'vm-505-disk-0';
    await config([d], []);
    await apply();
    qsd = await startLabStorageDaemon(vm, 'grow', { [d]: top(d) }, { exports: 'fuse' });
    const live = { qmp: qsd.qmp, freeze: 'off' };
    const small = new ExpectedDisk(SIZE);
    const grown = new ExpectedDisk(2 * SIZE);
    await labGuestWrite(vm, qsd.fuse(d), 0, MiB, 0x31);
    small.write(0, MiB, 0x31);
    grown.write(0, MiB, 0x31);
    await config([d], ['s1'], live);
    await apply();

    await config([d], ['s1'], live, '32MiB');
    const plan = await lvm.run(['plan']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('lvextend');
    expect(plan.stdout).toContain('block_resize');
    expect(plan.stdout).not.toContain('qemu-img resize');
    await apply();
    // The guest, attached all along, sees the new size and writes into the grown part.
    const seen = await must(vm, ['stat', '-c', '%s', qsd.fuse(d)]);
    expect(Number(seen.stdout.trim())).toBe(2 * SIZE);
    await labGuestWrite(vm, qsd.fuse(d), SIZE + 8 * MiB, MiB, 0x32);
    grown.write(SIZE + 8 * MiB, MiB, 0x32);
    expect(await labGuestView(vm, qsd.fuse(d))).toBe(grown.digest());
    expect((await remoteView(vm, snap(d, 's1'), 0)).digest).toBe(small.digest());
    await expectNoStaleNames();

    await qsd.stop();
    qsd = undefined;
    const after = await lvm.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect((await remoteView(vm, top(d), 0)).digest).toBe(grown.digest());
  });

  it('refuses an LV held by a process that is not the declared QEMU, naming it, and changes nothing', async () => {
    const vm = lab();
    const d = 'vm-502-disk-0';
    await config([d], []);
    await apply();
    qsd = await startLabStorageDaemon(vm, 'other', {});
    // A stranger holds the top open through its /dev/<vg>/<lv> link (seen as the device node).
    await must(vm, [
      'sh',
      '-c',
      `setsid sleep 300 < ${top(d)} > /dev/null 2>&1 & echo $! > /run/stranger.pid`,
    ]);
    try {
      await config([d], ['s1'], { qmp: qsd.qmp, freeze: 'off' });
      const before = await lvm.lvs();
      const r = await lvm.run(['apply', '--auto-approve']);
      expect(r.stdout + r.stderr).toMatch(
        new RegExp(
          `${d}\\.qcow2 is held by pid \\d+ \\(sleep\\), not by the QEMU of ${qsd.qmp} \\(pid ${qsd.pid}\\)`,
        ),
      );
      expect(await lvm.lvs()).toEqual(before);
    } finally {
      await vm.run(['sh', '-c', 'kill $(cat /run/stranger.pid)']);
    }
  });

  it('names socat when the storage host lacks it, and changes nothing', async () => {
    const vm = lab();
    const d = 'vm-503-disk-0';
    await config([d], []);
    await apply();
    qsd = await startLabStorageDaemon(vm, 'holder', { [d]: top(d) });
    await config([d], ['s1'], { qmp: qsd.qmp, freeze: 'off' });
    const socat = (await must(vm, ['sh', '-c', 'command -v socat'])).stdout.trim();
    await must(vm, ['mv', socat, `${socat}.hidden`]);
    try {
      const before = await lvm.lvs();
      const r = await lvm.run(['apply', '--auto-approve']);
      expect(r.stdout + r.stderr).toMatch(
        new RegExp(
          `QEMU pid ${qsd.pid} holds ${d}\\.qcow2, but cannot connect to the QMP socket at ${qsd.qmp}: socat is not installed on root@127\\.0\\.0\\.1:\\d+.*\\(Debian package socat`,
        ),
      );
      expect(await lvm.lvs()).toEqual(before);
    } finally {
      await must(vm, ['mv', `${socat}.hidden`, socat]);
    }
  });
});
