/**
 * Live snapshots (DESIGN §12) against a real running QEMU: qemu-storage-daemon holds a guest's
 * two disks open and its NBD exports stand in for the guest's writes. The snapshot switches both
 * disks in one transaction; each view is then read back, and QEMU's graph is checked for names
 * that no longer fit the files.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plan } from '../../src/model/plan.js';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, holdOpen, viewDigest, writePattern } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';
import { requireTool } from '../helpers/tools.js';

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
  await writeFile(
    lab.configPath,
    stringify({
      version: 1,
      directories: { lab: { path: './store' } },
      guests: {
        web: {
          storage: 'lab',
          disks: Object.fromEntries(DISKS.map((d) => [d, { size: '8MiB' }])),
          ...(snapshots.length > 0 ? { snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) } : {}),
          ...(vm ? { vm } : {}),
        },
      },
    }),
  );
}

/** Every image file with its size and mtime (the lock file changes with each run). */
async function images(): Promise<string[]> {
  return (await lab.snapshotTree()).filter((l) => l.startsWith(join(lab.storePath, 'images')));
}

interface NodeInfo {
  'node-name': string;
  drv: string;
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
});
