/**
 * Live merges in a booted guest (issue 10 acceptance 2, directory storage): a real QEMU whose
 * guest writes and verifies sequence-numbered records on ext4 on two disks. Snapshots taken
 * live are merged away by commit while it writes: the oldest and a middle one below the top,
 * and the newest with an active commit that pauses the guest for the pivot. The writer must
 * never read a wrong byte, the remaining snapshot and the top must hold clean file systems with
 * the writer's records, and QEMU's graph must name only files that exist.
 *
 * QEMU 7.2 (Debian 12) crashes streaming into lvchain's images (subclusters), so streams of a
 * running guest are proven on an adopted chain in test/integration/live-snapshot.test.ts.
 */
import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { consistentCut, inspectView } from '../helpers/guest-disk.js';
import type { Guest } from '../helpers/guest.js';
import { QmpClient } from '../../src/engines/qmp/client.js';
import { LocalExecutor } from '../../src/exec/local.js';
import { fileOf, queryNodes } from '../../src/engines/qmp/graph.js';
import { useDirGuest } from './dir-guest.js';

const DISKS = ['vm-920-disk-0', 'vm-920-disk-1'];
const { guest, lab: labOf, config } = useDirGuest('lvchain-live-merge-', DISKS);

async function graphFiles(g: Guest): Promise<string[]> {
  const q = await QmpClient.connect(new LocalExecutor(), g.qmpSocket);
  try {
    return (await queryNodes(q)).map(fileOf);
  } finally {
    q.close();
  }
}

describe('live merges in a booted guest that writes', () => {
  it('merges away the oldest, a middle and the newest snapshot by commit while the writer runs; nothing it reads is wrong', async () => {
    const g = guest();
    const l = labOf();
    const vm = { qmp: g.qmpSocket, agent: g.agentSocket, freeze: 'required' };
    const apply = async (snaps: string[], ...args: string[]) => {
      await config(snaps, vm);
      const r = await l.run(['apply', '--auto-approve', ...args]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      await g.waitForSeq(g.writerSeq() + 3);
      expect(g.writerErrors()).toEqual([]);
      for (const f of await graphFiles(g)) await expect(stat(f), f).resolves.toBeDefined();
      return r;
    };
    const snaps = ['s1', 's2', 's3', 's4'];
    for (let k = 1; k <= snaps.length; k++) {
      await g.waitForSeq(g.writerSeq() + 3);
      await apply(snaps.slice(0, k));
    }
    await apply(['s2', 's3', 's4'], '--merge-direction', 'commit');
    await apply(['s2', 's4'], '--merge-direction', 'commit');
    const pivot = await apply(['s2'], '--merge-direction', 'commit');
    expect(pivot.stdout).toContain('pausing the guest for the pivot');

    await g.powerOff();
    const last = g.writerSeq();
    const s2 = await Promise.all(DISKS.map((d, i) => inspectView(l.snap(d, 's2'), i)));
    const tops = await Promise.all(DISKS.map((d, i) => inspectView(l.top(d), i)));
    for (const v of [...s2, ...tops]) {
      expect(v.fsck.exitCode, v.fsck.output).toBe(0);
      expect(v.records.problems).toEqual([]);
      expect(v.records.prefix).toBe(true);
    }
    expect(consistentCut(s2.map((v) => v.records.count)).ok).toBe(true);
    expect(consistentCut(tops.map((v) => v.records.count)).cut).toBeGreaterThanOrEqual(last);
    const after = await l.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
  });
});
