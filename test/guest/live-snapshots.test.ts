/**
 * Live snapshots of a booted guest (issue 10 acceptance 1 and 5, directory storage): a real
 * QEMU with a real guest agent, and a writer that appends sequence-numbered records to ext4 on
 * two disks. Each snapshot, taken with `freeze: required`, must hold a clean file system and the
 * same cut of the writer's records on both disks, and the guest must be thawed after it.
 */
import { describe, expect, it } from 'vitest';
import { consistentCut, inspectView } from '../helpers/guest-disk.js';
import { agentConnect } from '../helpers/linejson.js';
import { useDirGuest } from './dir-guest.js';

const DISKS = ['vm-910-disk-0', 'vm-910-disk-1'];
const { guest, lab: labOf, config } = useDirGuest('lvchain-live-guest-', DISKS);

describe('live snapshots of a booted guest that writes', () => {
  it('takes 5 snapshots with freeze: required; each holds a clean file system and one cut on both disks; the top keeps every write', async () => {
    const g = guest();
    const l = labOf();
    const vm = { qmp: g.qmpSocket, agent: g.agentSocket, freeze: 'required' };
    const snaps: string[] = [];
    const cuts: number[] = [];
    for (let k = 1; k <= 5; k++) {
      await g.waitForSeq(g.writerSeq() + 5);
      const before = g.writerSeq();
      snaps.push(`s${k}`);
      await config(snaps, vm);
      const r = await l.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).not.toContain('crash-consistent');
      const agent = await agentConnect(g.agentSocket);
      try {
        expect(await agent.command('guest-fsfreeze-status')).toBe('thawed');
      } finally {
        agent.close();
      }
      const views = await Promise.all(DISKS.map((d, i) => inspectView(l.snap(d, `s${k}`), i)));
      for (const v of views) {
        expect(v.fsck.exitCode, v.fsck.output).toBe(0);
        expect(v.records.problems).toEqual([]);
        expect(v.records.prefix).toBe(true);
      }
      const cut = consistentCut(views.map((v) => v.records.count));
      expect(cut.ok, `record counts ${views.map((v) => v.records.count).join(', ')}`).toBe(true);
      // The snapshot was taken after `before` was on every disk, and the writer goes on.
      expect(cut.cut).toBeGreaterThanOrEqual(before);
      cuts.push(cut.cut);
      await g.waitForSeq(g.writerSeq() + 3);
    }
    // Later snapshots hold later cuts.
    expect([...cuts].sort((a, b) => a - b)).toEqual(cuts);
    await g.powerOff();
    const last = g.writerSeq();
    const tops = await Promise.all(DISKS.map((d, i) => inspectView(l.top(d), i)));
    for (const v of tops) {
      expect(v.fsck.exitCode, v.fsck.output).toBe(0);
      expect(v.records.prefix).toBe(true);
    }
    expect(consistentCut(tops.map((v) => v.records.count)).cut).toBeGreaterThanOrEqual(last);
    expect(g.writerErrors()).toEqual([]);
    // Offline now: the chain is the offline layout and nothing is left to do.
    const after = await l.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    // Each snapshot records that the agent froze the file systems for it.
    for (const d of DISKS) {
      const shown = await l.run(['show', d]);
      expect(shown.exitCode, shown.stderr).toBe(0);
      expect(shown.stdout.match(/\(fs-consistent\)/g)?.length, shown.stdout).toBe(snaps.length);
    }
  });
});
