/**
 * The live-guest rig itself (test/guest/README.md): a two-disk guest writes, the agent
 * freezes and thaws it, and what the disks hold is a clean file system with the writer's
 * records as one consistent cut.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { consistentCut, formatExt4, inspectView, type DiskView } from '../helpers/guest-disk.js';
import { DirLab } from '../helpers/dirlab.js';
import { useGuest } from '../helpers/guest.js';
import { assertGuestTools } from './build.js';
import { agentConnect, qmpConnect } from '../helpers/linejson.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Disk d0 is an lvchain-managed chain (snapshot s1 under the top); d1 a plain qemu-img image.
const D0 = 'vm-900-disk-0';
let lab: DirLab | undefined;
let dir = '';
afterAll(async () => {
  await lab?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const guest = useGuest(async () => {
  assertGuestTools();
  lab = await DirLab.create('lvchain-guest-rig-');
  await lab.writeConfig({ [D0]: { size: '64MiB', snapshots: ['s1'] } });
  await lab.apply();
  dir = await mkdtemp(join(tmpdir(), 'lvchain-guest-rig-'));
  const d1 = join(dir, 'd1.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', d1, '64M']);
  const disks = [
    { id: 'd0', image: lab.top(D0) },
    { id: 'd1', image: d1 },
  ];
  for (const d of disks) await formatExt4(d.image);
  return { disks };
});

async function views(): Promise<DiskView[]> {
  return Promise.all(guest().disks.map((d, i) => inspectView(d.image, i)));
}

function expectCleanCut(vs: DiskView[], atLeast: number): void {
  for (const v of vs) {
    expect(v.fsck.exitCode, v.fsck.output).toBe(0);
    expect(v.records.problems).toEqual([]);
    expect(v.records.prefix).toBe(true);
  }
  const cut = consistentCut(vs.map((v) => v.records.count));
  expect(cut.ok, `record counts ${vs.map((v) => v.records.count).join(', ')}`).toBe(true);
  // every record the writer reported was fsync'ed to every disk
  expect(cut.cut).toBeGreaterThanOrEqual(atLeast);
}

describe('live guest rig', () => {
  it('names each disk <id> with nodes <id>-top on <id>-file, and opens the chain, over QMP', async () => {
    const g = guest();
    const qmp = await qmpConnect(g.qmpSocket);
    try {
      const nodes = (await qmp.command('query-named-block-nodes', { flat: true })) as {
        'node-name': string;
        drv: string;
        backing_file?: string;
        image: { filename: string; 'backing-filename'?: string };
      }[];
      for (const d of g.disks) {
        const top = nodes.find((n) => n['node-name'] === d.topNode);
        expect(top?.drv).toBe('qcow2');
        expect(top?.image.filename).toBe(d.image);
        expect(nodes.find((n) => n['node-name'] === d.fileNode)?.drv).toBe('file');
      }
      const d0 = nodes.find((n) => n['node-name'] === 'd0-top');
      expect(d0?.backing_file).toBe(lab!.snap(D0, 's1'));
      expect(nodes.some((n) => n.drv === 'qcow2' && n.image.filename === lab!.snap(D0, 's1'))).toBe(true);
      const block = (await qmp.command('query-block')) as {
        qdev: string;
        inserted?: { 'node-name': string };
      }[];
      expect(block.map((b) => [b.qdev, b.inserted?.['node-name']]).sort()).toEqual(
        g.disks.map((d) => [`/machine/peripheral/${d.id}/virtio-backend`, d.topNode]).sort(),
      );
    } finally {
      qmp.close();
    }
  });

  it('writes to both disks, stalls while frozen, and leaves clean prefixes', async () => {
    const g = guest();
    const s0 = g.writerSeq();
    await g.waitForSeq(s0 + 20);
    expect(g.serial()).toMatch(/^WRITER check=\d+ seq=\d+/m);

    let frozenAt = 0;
    const agent = await agentConnect(g.agentSocket);
    try {
      expect(await agent.command('guest-fsfreeze-freeze', undefined, 30_000)).toBe(2);
      expect(await agent.command('guest-fsfreeze-status')).toBe('frozen');
      await sleep(1000);
      frozenAt = g.writerSeq();
      const frozen = await views();
      await sleep(2000);
      expect(g.writerSeq()).toBe(frozenAt);
      expectCleanCut(frozen, frozenAt);
      // the views were taken while frozen: they hold no record beyond the one in flight
      expect(Math.max(...frozen.map((v) => v.records.count))).toBeLessThanOrEqual(frozenAt + 1);

      expect(await agent.command('guest-fsfreeze-thaw', undefined, 30_000)).toBe(2);
      expect(await agent.command('guest-fsfreeze-status')).toBe('thawed');
    } finally {
      agent.close();
    }
    const thawedAt = g.writerSeq();
    await g.waitForSeq(thawedAt + 10);

    // The latency log has every record, and the one held up by the freeze waited ≥ 2 s.
    const lat = await g.writerLog();
    expect(lat.map((e) => e.seq)).toEqual(Array.from({ length: lat.length }, (_, i) => i + 1));
    expect(lat.length).toBeGreaterThanOrEqual(thawedAt + 10);
    const stalled = lat.find((e) => e.seq === frozenAt + 1);
    expect(stalled && stalled.endMs - stalled.startMs).toBeGreaterThanOrEqual(2000);
    const others = lat.filter((e) => e.seq !== frozenAt + 1).map((e) => e.endMs - e.startMs);
    expect(Math.max(...others)).toBeLessThan(2000);

    await g.powerOff();
    const last = g.writerSeq();
    expect(g.serial()).toMatch(/^guest-stop: unmounted \/mnt\/d1/m);
    expectCleanCut(await views(), last);
    expect(g.writerErrors()).toEqual([]);
  });
});
