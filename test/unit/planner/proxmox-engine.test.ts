/**
 * The Proxmox engine's plans (DESIGN §13): for a disk whose Proxmox VM is judged reachable, a
 * snapshot, delete or rollback is one `qm` step on the VM's node, then lvchain's metadata on the
 * layers Proxmox leaves; Proxmox's merge direction is shown beside lvchain's optimum. Captured
 * fixtures (`drift`, `chains`), with the verdict an observation on a Proxmox node gives.
 */
import { describe, expect, it } from 'vitest';
import { change, planFixture, stepLines } from './plan-fixture.js';
import type { Observed } from '../../../src/model/observed.js';
import type { Step } from '../../../src/model/plan.js';

/** The disks' verdict: Proxmox VM `vmid` on pve1, this node; `lock` as its config's `lock:`. */
const viaProxmox =
  (vmids: Record<string, number>, lock?: string) =>
  (o: Observed): void => {
    for (const [disk, vmid] of Object.entries(vmids)) {
      const d = o.storages.lab?.disks[disk];
      if (!d) throw new Error(`the fixture lacks ${disk}`);
      d.engine = {
        kind: 'engine',
        engine: 'proxmox',
        vmid,
        node: 'pve1',
        here: true,
        ...(lock ? { lock } : {}),
      };
    }
  };

const stepOf = <K extends Step['kind']>(steps: { step: Step }[], kind: K) =>
  steps.map((s) => s.step).find((s): s is Extract<Step, { kind: K }> => s.kind === kind);

describe('the Proxmox engine in plans', () => {
  it('takes a snapshot with qm snapshot, then finishes the top and the snapshot Proxmox renamed', () => {
    const plan = planFixture('drift', {}, undefined, viaProxmox({ 'vm-130-disk-0': 130 }));
    expect(stepLines(plan, 'snapshot.vm-130-disk-0@s1')).toEqual([
      'qm snapshot 130 s1 on pve1',
      'set_meta top finish',
      'set_meta snap:s1 finish',
    ]);
    const c = change(plan, 'snapshot.vm-130-disk-0@s1');
    expect(stepOf(c.x_steps, 'qm')?.qm).toMatchObject({
      description: expect.stringContaining('lvchain: pinned snapshot'),
    });
    // Proxmox renames the top with its tags, and makes an untagged top: the tags change from those.
    const metas = c.x_steps.map((s) => s.step).filter((s) => s.kind === 'set_meta');
    expect(metas[0]).toMatchObject({ layer: { role: 'top' }, from: null });
    expect(metas[1]).toMatchObject({
      layer: { role: 'snapshot', snap: 's1' },
      from: { disk: 'vm-130-disk-0' },
    });
    expect(metas[1]?.from?.snap).toBeUndefined();
    expect(plan.applyable).toBe(true);
  });

  it("deletes a middle snapshot Proxmox's way, a stream, and shows what lvchain's commit would copy", () => {
    const plan = planFixture('chains', {}, undefined, viaProxmox({ 'vm-101-disk-0': 101 }));
    const c = change(plan, 'snapshot.vm-101-disk-0@s1');
    expect(c.operation).toMatchObject({ merge: 'merge_stream', chosen_because: 'proxmox' });
    expect(stepLines(plan, 'snapshot.vm-101-disk-0@s1')).toEqual(['qm delsnapshot 101 s1 on pve1 stream']);
    const op = c.operation as { commit_bytes: number; stream_bytes: number };
    expect(op.stream_bytes).toBeGreaterThan(op.commit_bytes);
    // What Proxmox's merge copies counts in the plan's total, in place of lvchain's commit.
    expect(plan.summary.bytes_to_copy - planFixture('chains').summary.bytes_to_copy).toBe(
      op.stream_bytes - op.commit_bytes,
    );
    expect(plan.diagnostics).toContainEqual(
      expect.objectContaining({
        code: 'merge_direction_costlier',
        address: 'snapshot.vm-101-disk-0@s1',
        summary: expect.stringMatching(/^Proxmox's stream copies .* where commit would copy /),
      }),
    );
    // Without the engine, lvchain commits: the cheaper way.
    expect(change(planFixture('chains'), 'snapshot.vm-101-disk-0@s1').operation).toMatchObject({
      merge: 'merge_commit',
      chosen_because: 'cheaper',
    });
  });

  it('deletes the oldest snapshot by commit, writes the child’s metadata back onto the renamed layer, and plans the next delete on what Proxmox left', () => {
    // Fixture `retention`: disk 111's hourly snapshots from 08:00 are its chain's base; three expire.
    const plan = planFixture(
      'retention',
      { allowMassDelete: true },
      undefined,
      viaProxmox({ 'vm-111-disk-0': 111 }),
    );
    const at = (h: string) => `snapshot.vm-111-disk-0@auto-20261120T${h}00Z`;
    expect(stepLines(plan, at('08'))).toEqual([
      'qm delsnapshot 111 auto-20261120T0800Z on pve1 commit',
      'set_meta snap:auto-20261120T0900Z finish',
    ]);
    const meta = stepOf(change(plan, at('08')).x_steps, 'set_meta');
    expect(meta).toMatchObject({
      meta: { snap: 'auto-20261120T0900Z', created: '2026-11-20T09:00:00Z', kind: 'auto', policy: 'hourly' },
      from: { snap: 'auto-20261120T0800Z' },
    });
    // The layer that took 09:00's name is the base now: Proxmox commits into it again.
    expect(stepLines(plan, at('09'))[0]).toBe('qm delsnapshot 111 auto-20261120T0900Z on pve1 commit');
    expect(change(plan, at('10')).operation).toMatchObject({
      merge: 'merge_commit',
      chosen_because: 'proxmox',
    });
    // Without the engine, lvchain streams these on a tie.
    expect(change(planFixture('retention', { allowMassDelete: true }), at('08')).operation).toMatchObject({
      merge: 'merge_stream',
      chosen_because: 'tie',
    });
  });

  it('rolls back to the newest snapshot with qm rollback, and refuses an older one with why', () => {
    const newest = planFixture(
      'chains',
      { mode: 'rollback', rollback: { disks: ['vm-106-disk-0'], snap: 's1', discardNewer: false } },
      undefined,
      viaProxmox({ 'vm-106-disk-0': 106 }),
    );
    expect(stepLines(newest, 'disk.vm-106-disk-0')).toEqual([
      'qm rollback 106 s1 on pve1',
      'set_meta top finish',
    ]);
    const older = planFixture(
      'chains',
      { mode: 'rollback', rollback: { disks: ['vm-106-disk-0'], snap: 's0', discardNewer: true } },
      undefined,
      viaProxmox({ 'vm-106-disk-0': 106 }),
    );
    expect(older.applyable).toBe(false);
    expect(older.diagnostics.map((d) => d.summary)).toContainEqual(
      expect.stringContaining('Proxmox rolls back only to the newest snapshot, and s1 is newer'),
    );
  });

  it('leaves the disk of a VM whose config Proxmox locked alone, and says how to clear it', () => {
    const plan = planFixture('drift', {}, undefined, viaProxmox({ 'vm-130-disk-0': 130 }, 'snapshot'));
    expect(plan.resource_changes.filter((c) => c.disk === 'vm-130-disk-0')).toEqual([]);
    expect(plan.diagnostics).toContainEqual(
      expect.objectContaining({
        code: 'proxmox_locked',
        summary: expect.stringContaining('VM 130 is locked by Proxmox (lock: snapshot)'),
      }),
    );
  });

  it('says when a snapshot it deletes holds a saved RAM state, which Proxmox removes with it', () => {
    const snap = 'auto-20261120T0800Z';
    const withState = (o: Observed): void => {
      viaProxmox({ 'vm-111-disk-0': 111 })(o);
      const d = o.storages.lab?.disks['vm-111-disk-0'];
      if (d)
        d.proxmoxVms = [
          {
            vmid: 111,
            node: 'pve1',
            here: true,
            state: 'stopped',
            snapshots: { [snap]: { vmstate: 'san1:vm-111-state-x' } },
          },
        ];
    };
    const plan = planFixture('retention', { allowMassDelete: true }, undefined, withState);
    expect(plan.diagnostics).toContainEqual({
      severity: 'info',
      summary: `snapshot.vm-111-disk-0@${snap} holds VM 111's saved RAM state (san1:vm-111-state-x): Proxmox removes that volume with the snapshot`,
      // A directory storage holds no LV of it: the figures cannot count it.
      detail: 'lvchain found no such volume on lab, so the free space figures here do not count it.',
      address: `snapshot.vm-111-disk-0@${snap}`,
    });
    const without = planFixture(
      'retention',
      { allowMassDelete: true },
      undefined,
      viaProxmox({ 'vm-111-disk-0': 111 }),
    );
    expect(without.diagnostics.filter((d) => d.summary.includes('saved RAM state'))).toEqual([]);
  });
});
