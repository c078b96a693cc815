/**
 * Live snapshots (DESIGN §12) against a real running QEMU: qemu-storage-daemon holds a guest's
 * two disks open and its NBD exports stand in for the guest's writes. The snapshot switches both
 * disks in one transaction; each view is then read back, and QEMU's graph is checked for names
 * that no longer fit the files.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { execa } from 'execa';
import { basename, join } from 'node:path';
import { streamsIntoSubclusters } from '../../src/model/qemu.js';
import { fileOf } from '../../src/engines/qmp/graph.js';
import type { Plan } from '../../src/model/plan.js';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, holdOpen, viewDigest, writePattern } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';
import { requireTool } from '../helpers/tools.js';
import { diskConfig, guestConfig } from '../helpers/configs.js';

const DISKS = ['vm-801-disk-0', 'vm-801-disk-1'];
const SIZE = 8 * 1024 * 1024;
const MiB = 1024 * 1024;
let lab: DirLab;
let qsd: StorageDaemon | undefined;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await qsd?.stop();
  qsd = undefined;
  await lab.dispose();
});

async function config(snapshots: string[], vm: Record<string, unknown> | undefined): Promise<void> {
  await lab.writeRawConfig(
    guestConfig({ guest: 'web', disks: DISKS, size: '8MiB', snapshots, ...(vm ? { vm } : {}) }),
  );
}

/** Every image file with its size and mtime (the lock file changes with each run). */
async function images(): Promise<string[]> {
  return (await lab.snapshotTree()).filter((l) => l.startsWith(join(lab.storePath, 'images')));
}

/** The consistency that `lvchain show --json` reports for each snapshot of a disk. */
async function consistency(disk: string): Promise<Record<string, string | undefined>> {
  const r = await lab.run(['show', disk, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  const shown = JSON.parse(r.stdout) as { layers: { meta?: { snap?: string; consistency?: string } }[] };
  return Object.fromEntries(
    shown.layers.flatMap((l) => (l.meta?.snap ? [[l.meta.snap, l.meta.consistency]] : [])),
  );
}

interface NodeInfo {
  'node-name': string;
  drv: string;
  ro: boolean;
  file: string;
  backing_file?: string;
}

describe('a live snapshot of a running two-disk guest', () => {
  it('switches both disks in one transaction; every view reads back and no node names a stale file', async () => {
    lab = await DirLab.create('lvchain-live-');
    await config([], undefined);
    await lab.apply();
    const expected = DISKS.map(() => new ExpectedDisk(SIZE));
    for (const [i, d] of DISKS.entries()) {
      await writePattern(lab.top(d), 0, MiB, 0x11 + i);
      expected[i]?.write(0, MiB, 0x11 + i);
    }
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    const vm = { qmp: qsd.qmp, freeze: 'off' };

    await config(['s1'], vm);
    const plan = await lab.run(['plan', '--out', 'live.json']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('switch the running VM');
    const saved = JSON.parse(await readFile(join(lab.root, 'live.json'), 'utf8')) as Plan;
    const switches = saved.resource_changes.flatMap((c) => c.x_steps.filter((s) => s.step.kind === 'switch'));
    expect(switches).toHaveLength(2);
    const messages = switches.flatMap((s) => s.commands.flatMap((c) => (c.kind === 'qmp' ? [c] : [])));
    expect(messages.map((c) => c.message.execute)).toContain('transaction');
    expect(messages.every((c) => c.socket === qsd?.qmp)).toBe(true);

    await lab.apply();
    const s1 = expected.map((e) => e.digest());
    // The guest writes on after the snapshot: its writes land in the new tops, not in s1.
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 2 * MiB, MiB, 0x21 + i);
      expected[i]?.write(2 * MiB, MiB, 0x21 + i);
    }
    for (const [i, d] of DISKS.entries()) {
      expect(await viewDigest(lab.snap(d, 's1'))).toBe(s1[i]);
      expect(await guestView(qsd.nbd(d))).toBe(expected[i]?.digest());
    }
    const nodes = await qsd.query<NodeInfo[]>('query-named-block-nodes', { flat: true });
    for (const d of DISKS) {
      // The only nodes that name the top's path are the new top's; the renamed layer is opened by its own name.
      const onTop = nodes.filter((n) => n.file === lab.top(d));
      expect(
        onTop.map((n) => n.drv),
        JSON.stringify(nodes, null, 1),
      ).toEqual(['file']);
      expect(nodes.some((n) => n.drv === 'qcow2' && n.file === lab.snap(d, 's1'))).toBe(true);
      expect(nodes.some((n) => n['node-name'] === `${d}-top`)).toBe(false);
    }
    await qsd.stop();
    qsd = undefined;
    // Offline afterwards: the chain is exactly the offline layout, and nothing is left to do.
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) expect(await viewDigest(lab.top(d))).toBe(expected[i]?.digest());
    // Taken without a freeze (freeze: off), so recorded as crash-consistent; an offline one says nothing.
    for (const d of DISKS) expect(await consistency(d)).toEqual({ s1: 'crash' });
    await config(['s1', 's2'], undefined);
    await lab.apply();
    for (const d of DISKS) expect(await consistency(d)).toEqual({ s1: 'crash', s2: undefined });
  });

  it('refuses a disk held by a process that is not the declared QEMU, naming it, and changes nothing', async () => {
    lab = await DirLab.create('lvchain-live-');
    await config([], undefined);
    await lab.apply();
    qsd = await startStorageDaemon({ [DISKS[1] as string]: lab.top(DISKS[1] as string) });
    const stranger = await holdOpen(lab.top(DISKS[0] as string));
    try {
      await config(['s1'], { qmp: qsd.qmp, freeze: 'off' });
      const before = await images();
      const r = await lab.run(['apply', '--auto-approve']);
      expect(r.stdout + r.stderr).toMatch(
        /vm-801-disk-0\.qcow2 is held by pid \d+ \(qemu-io\), not by the QEMU of .*qmp\.sock \(pid \d+\)/,
      );
      expect(await images()).toEqual(before);
    } finally {
      await stranger.release();
    }
  });

  it('refuses to roll back a running VM, saying how to go on', async () => {
    lab = await DirLab.create('lvchain-live-');
    await config(['s1'], undefined);
    await lab.apply();
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    await config(['s1'], { qmp: qsd.qmp, freeze: 'off' });
    const before = await images();
    const r = await lab.run(['rollback', 'vm-801-disk-0', 's1', '--auto-approve']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('a running VM is never rolled back');
    expect(await images()).toEqual(before);
  });

  it('freeze: required with an agent that does not answer refuses before anything changes; try goes on crash-consistent', async () => {
    lab = await DirLab.create('lvchain-live-');
    await config([], undefined);
    await lab.apply();
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    const agent = join(lab.root, 'no-agent.sock');
    await config(['s1'], { qmp: qsd.qmp, agent, freeze: 'required' });
    const before = await images();
    const refused = await lab.run(['apply', '--auto-approve']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(
      'freeze: required, but the guest agent does not answer',
    );
    expect(refused.stdout + refused.stderr).toContain(agent);
    expect(await images()).toEqual(before);

    await config(['s1'], { qmp: qsd.qmp, agent, freeze: 'try' });
    const taken = await lab.apply();
    expect(taken.stdout).toMatch(
      /warning: the guest agent did not answer .*; the snapshot is crash-consistent/,
    );
    const after = await images();
    for (const d of DISKS) expect(after.some((l) => l.startsWith(`${lab.snap(d, 's1')} `))).toBe(true);
  });

  it('merges away the oldest, a middle and the newest snapshot of an adopted chain while the guest runs: every view reads back, no node names a removed file', async () => {
    // A chain made outside lvchain without subclusters, which QEMU before 8.1 can stream into
    // (lvchain's own layers have them; the next test covers those).
    lab = await DirLab.create('lvchain-live-');
    const snaps = ['s1', 's2', 's3', 's4'];
    const expected = DISKS.map(() => new ExpectedDisk(SIZE));
    const views = new Map<string, string[]>();
    await mkdir(lab.diskDir(DISKS[0] as string), { recursive: true });
    for (const [i, d] of DISKS.entries()) {
      const layers = [...snaps.map((x) => lab.snap(d, x)), lab.top(d)];
      for (const [k, path] of layers.entries()) {
        const below = k > 0 ? ['-b', basename(layers[k - 1] as string), '-F', 'qcow2'] : [];
        await execa('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-o',
          'cluster_size=64k',
          ...below,
          path,
          '8M',
        ]);
        if (k === layers.length - 1) break;
        // Each layer has its own range and rewrites part of the one before, so each merge copies.
        await writePattern(path, k * MiB, MiB, 0x10 * (k + 1) + i);
        expected[i]?.write(k * MiB, MiB, 0x10 * (k + 1) + i);
        if (k > 0) {
          await writePattern(path, (k - 1) * MiB, 64 * 1024, 0x80 + k);
          expected[i]?.write((k - 1) * MiB, 64 * 1024, 0x80 + k);
        }
        views.set(snaps[k] as string, [
          ...(views.get(snaps[k] as string) ?? []),
          expected[i]?.digest() as string,
        ]);
      }
    }
    await config(snaps, undefined);
    for (const d of DISKS) {
      const r = await lab.run(['import', 'lab', d, '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    const vm = { qmp: qsd.qmp, freeze: 'off' };
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 6 * MiB, MiB, 0x70 + i);
      expected[i]?.write(6 * MiB, MiB, 0x70 + i);
    }
    // Oldest (s1), a middle one (s3) and the newest (s4) go; s2 stays.
    await config(['s2'], vm);
    const plan = await lab.run(['plan']);
    // This QEMU (a storage daemon) cannot pause, so the newest is streamed into the top; the
    // others go the cheaper way.
    expect(plan.stdout).toContain('the VM is running, and its QEMU can merge this one only this way');
    await lab.apply();
    for (const [i, d] of DISKS.entries()) {
      expect(await viewDigest(lab.snap(d, 's2'))).toBe(views.get('s2')?.[i]);
      expect(await guestView(qsd.nbd(d))).toBe(expected[i]?.digest());
    }
    const nodes = await qsd.query<NodeInfo[]>('query-named-block-nodes', { flat: true });
    for (const d of DISKS)
      for (const gone of ['s1', 's3', 's4']) {
        const path = lab.snap(d, gone);
        expect(
          nodes.filter((n) => n.file.includes(path)),
          JSON.stringify(nodes, null, 1),
        ).toEqual([]);
      }
    // The guest goes on writing into its top, and the chain is the offline layout once it stops.
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 7 * MiB, MiB, 0x90 + i);
      expected[i]?.write(7 * MiB, MiB, 0x90 + i);
    }
    await qsd.stop();
    qsd = undefined;
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) {
      expect(await viewDigest(lab.top(d))).toBe(expected[i]?.digest());
      expect(await viewDigest(lab.snap(d, 's2'))).toBe(views.get('s2')?.[i]);
    }
  });

  it("leaves a stream into lvchain's own layers (subclusters) for later on a QEMU before 8.1, which would crash, and commits instead when left to choose", async () => {
    lab = await DirLab.create('lvchain-live-');
    await config([], undefined);
    await lab.apply();
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    const vm = { qmp: qsd.qmp, freeze: 'off' };
    const expected = DISKS.map(() => new ExpectedDisk(SIZE));
    for (const [k, snap] of ['s1', 's2'].entries()) {
      for (const [i, d] of DISKS.entries()) {
        // 64 KiB writes fill half of a 128 KiB cluster: the case that crashes QEMU 7.2.
        await guestWrite(qsd.nbd(d), k * MiB, 64 * 1024, 0x31 + k + i);
        expected[i]?.write(k * MiB, 64 * 1024, 0x31 + k + i);
      }
      await config(k === 0 ? [snap] : ['s1', snap], vm);
      await lab.apply();
    }
    const version = await qsd.query<{ qemu: { major: number; minor: number } }>('query-version');
    const fixed = streamsIntoSubclusters(`${version.qemu.major}.${version.qemu.minor}`);
    await config(['s2'], vm);
    const before = await images();
    const streamed = await lab.run(['apply', '--auto-approve', '--merge-direction', 'stream']);
    expect(streamed.exitCode, streamed.stdout + streamed.stderr).toBe(0);
    if (!fixed) {
      expect(streamed.stdout + streamed.stderr).toContain(
        'would crash streaming into an image with subclusters',
      );
      expect(await images()).toEqual(before);
      // Left to choose, the live engine commits s2 into s1 instead, below the top.
      const chosen = await lab.run(['apply', '--auto-approve']);
      expect(chosen.exitCode, chosen.stdout + chosen.stderr).toBe(0);
      expect(chosen.stdout).toContain('the VM is running, and its QEMU can merge this one only this way');
    }
    expect((await images()).some((l) => l.startsWith(`${lab.snap(DISKS[0] as string, 's1')} `))).toBe(false);
    // QEMU is alive either way and the guest reads what it wrote.
    for (const [i, d] of DISKS.entries()) expect(await guestView(qsd.nbd(d))).toBe(expected[i]?.digest());
  });

  it('a standalone disk switches alone, and its crash-consistent warning is shown', async () => {
    lab = await DirLab.create('lvchain-live-');
    const disk = 'vm-802-disk-0';
    const write = async (snapshots: string[], vm?: Record<string, unknown>) =>
      lab.writeRawConfig(diskConfig({ disk, size: '8MiB', snapshots, ...(vm ? { vm } : {}) }));
    await write([]);
    await lab.apply();
    qsd = await startStorageDaemon({ [disk]: lab.top(disk) });
    await guestWrite(qsd.nbd(disk), 0, MiB, 0x5a);
    await write(['s1'], { qmp: qsd.qmp, agent: join(lab.root, 'no-agent.sock'), freeze: 'try' });
    const r = await lab.apply();
    expect(r.stdout).toMatch(/warning: the guest agent did not answer .*; the snapshot is crash-consistent/);
    await guestWrite(qsd.nbd(disk), MiB, MiB, 0x5b);
    const expected = new ExpectedDisk(SIZE);
    expected.write(0, MiB, 0x5a);
    expect(await viewDigest(lab.snap(disk, 's1'))).toBe(expected.digest());
    expected.write(MiB, MiB, 0x5b);
    expect(await guestView(qsd.nbd(disk))).toBe(expected.digest());
  });

  it('grows the disk of a running VM with block_resize: the VM sees and writes the new space, the snapshot keeps its size', async () => {
    lab = await DirLab.create('lvchain-live-');
    const disk = 'vm-803-disk-0';
    const write = async (size: string, snapshots: string[], vm?: Record<string, unknown>) =>
      lab.writeRawConfig(diskConfig({ disk, size, snapshots, ...(vm ? { vm } : {}) }));
    await write('8MiB', []);
    await lab.apply();
    qsd = await startStorageDaemon({ [disk]: lab.top(disk) }, { exports: 'fuse' });
    const vm = { qmp: qsd.qmp, freeze: 'off' };
    const small = new ExpectedDisk(SIZE);
    const grown = new ExpectedDisk(12 * MiB);
    await guestWrite(qsd.fuse(disk), 0, MiB, 0x41);
    small.write(0, MiB, 0x41);
    grown.write(0, MiB, 0x41);
    await write('8MiB', ['s1'], vm);
    await lab.apply();

    await write('12MiB', ['s1'], vm);
    const plan = await lab.run(['plan']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('block_resize');
    expect(plan.stdout).not.toContain('qemu-img resize');
    await lab.apply();
    const nodes = await qsd.query<(NodeInfo & { image: { 'virtual-size': number } })[]>(
      'query-named-block-nodes',
      { flat: true },
    );
    expect(nodes.find((n) => n.drv === 'qcow2' && fileOf(n) === lab.top(disk))?.image['virtual-size']).toBe(
      12 * MiB,
    );
    // The guest, attached all along, sees the new size and writes into the grown part.
    expect((await stat(qsd.fuse(disk))).size).toBe(12 * MiB);
    await guestWrite(qsd.fuse(disk), 10 * MiB, MiB, 0x42);
    grown.write(10 * MiB, MiB, 0x42);
    expect(await guestView(qsd.fuse(disk))).toBe(grown.digest());
    expect(await viewDigest(lab.snap(disk, 's1'))).toBe(small.digest());
    await qsd.stop();
    qsd = undefined;
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect(await viewDigest(lab.top(disk))).toBe(grown.digest());
  });

  it('deletes snapshots of a running two-disk guest by commit: the newest with a pivot onto it, a middle one under the top; every view reads back and no node names a stale file', async () => {
    lab = await DirLab.create('lvchain-live-');
    const snaps = ['s1', 's2', 's3', 's4'];
    const expected = DISKS.map(() => new ExpectedDisk(SIZE));
    const views = new Map<string, string[]>();
    await config([], undefined);
    await lab.apply();
    for (const [k, snap] of snaps.entries()) {
      for (const [i, d] of DISKS.entries()) {
        await writePattern(lab.top(d), k * MiB, MiB, 0x10 * (k + 1) + i);
        expected[i]?.write(k * MiB, MiB, 0x10 * (k + 1) + i);
      }
      views.set(
        snap,
        expected.map((e) => e.digest()),
      );
      await config(snaps.slice(0, k + 1), undefined);
      await lab.apply();
    }
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])), {
      exports: 'nbd',
      process: 'system',
    });
    const vm = { qmp: qsd.qmp, freeze: 'off' };
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 5 * MiB, MiB, 0x60 + i);
      expected[i]?.write(5 * MiB, MiB, 0x60 + i);
    }
    // The newest (s4): the top is committed into it and the VM pivots onto its image.
    await config(['s1', 's2', 's3'], vm);
    const plan = await lab.run(['plan', '--merge-direction', 'commit']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('pausing the guest for the pivot');
    expect(plan.stdout).toContain('block-commit');
    const r = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const running = await qsd.query<{ status: string }>('query-status');
    expect(running.status).toBe('running');
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 6 * MiB, MiB, 0x70 + i);
      expected[i]?.write(6 * MiB, MiB, 0x70 + i);
    }
    // A middle one (s2): s3 is committed into it under the top.
    await config(['s1', 's3'], vm);
    const r2 = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(r2.exitCode, r2.stdout + r2.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) {
      await guestWrite(qsd.nbd(d), 7 * MiB, MiB, 0x80 + i);
      expected[i]?.write(7 * MiB, MiB, 0x80 + i);
      expect(await guestView(qsd.nbd(d))).toBe(expected[i]?.digest());
      expect(await viewDigest(lab.snap(d, 's1'))).toBe(views.get('s1')?.[i]);
      expect(await viewDigest(lab.snap(d, 's3'))).toBe(views.get('s3')?.[i]);
    }
    const nodes = await qsd.query<NodeInfo[]>('query-named-block-nodes', { flat: true });
    const files = new Set((await images()).map((l) => l.split(' ')[0]));
    for (const n of nodes) expect(files.has(fileOf(n)), `${fileOf(n)} of ${n['node-name']}`).toBe(true);
    for (const d of DISKS) {
      expect(nodes.filter((n) => n.drv === 'qcow2' && !n.ro && fileOf(n) === lab.top(d))).toHaveLength(1);
      // The node moved onto the renamed file still holds QEMU's lock on it.
      const info = await execa('qemu-img', ['info', lab.top(d)], { reject: false });
      expect(info.exitCode, info.stdout).not.toBe(0);
      expect(info.stderr).toContain('lock');
    }
    await qsd.stop();
    qsd = undefined;
    const after = await lab.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    for (const [i, d] of DISKS.entries()) {
      expect(await viewDigest(lab.top(d))).toBe(expected[i]?.digest());
      expect(await viewDigest(lab.snap(d, 's3'))).toBe(views.get('s3')?.[i]);
    }
  });

  it('leaves a commit of the top for later when the QEMU cannot pause its guest (a storage daemon), and changes nothing', async () => {
    lab = await DirLab.create('lvchain-live-');
    await config(['s1'], undefined);
    await lab.apply();
    qsd = await startStorageDaemon(Object.fromEntries(DISKS.map((d) => [d, lab.top(d)])));
    await config([], { qmp: qsd.qmp, freeze: 'off' });
    const before = await images();
    const r = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    // Left for later, as any change the live engine cannot make on this QEMU; nothing is written.
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('cannot pause the guest');
    expect(await images()).toEqual(before);
    for (const d of DISKS) expect(await guestView(qsd.nbd(d))).toBe(await viewDigest(lab.snap(d, 's1')));
  });
});
