/**
 * Issue 11 acceptance 6: Proxmox VE acting on a disk lvchain made, on real LVM in the lab VM.
 * lvchain takes s1…s4 over known data; then Proxmox's exact command sequences (replayed by
 * test/helpers/proxmox-sequences.ts) delete the oldest snapshot, delete a middle one, roll back
 * and take a snapshot of their own. After each, lvchain plans cleanly (nothing left alone, no
 * meta_mismatch or mixed_ownership), apply converges, every remaining snapshot reads the data
 * it held (qemu-img views, sha256), and every snapshot keeps the time lvchain recorded for it.
 * The one time no record keeps (s2's, whose LV Proxmox removed when it merged s1 into it) is
 * re-derived from the creation of the layer above it, and the plan says it is an estimate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView, remoteWriteMiB } from '../helpers/lvmlab.js';
import { ProxmoxSequences } from '../helpers/proxmox-sequences.js';
import { installQmStandIn } from '../lab/two-nodes.js';
import type { Plan } from '../../src/model/plan.js';

const VG = 'vg_san1';
const DISK = 'vm-401-disk-0';
const MiB = 1024 * 1024;
const T = Date.parse('2026-03-01T08:00:00Z');
const at = (hours: number) => new Date(T + hours * 3_600_000).toISOString().replace('.000Z', 'Z');

describe('Proxmox round trips on a disk lvchain made', () => {
  const lab = useLab({ disks: [{ sizeMiB: 768 }] });
  let lvm: LvmLab;
  let pve: ProxmoxSequences;
  /** What each snapshot showed when lvchain took it, and the time it recorded. */
  const views = new Map<string, string>();
  const recorded = new Map<string, string>();

  const lvOf = (snap: string) => (snap === 'current' ? `${DISK}.qcow2` : `snap_${DISK}_${snap}.qcow2`);
  const viewOf = async (snap: string) => (await remoteView(lab(), lvm.dev(lvOf(snap)), 0)).digest;
  const write = (pattern: number, offsetMiB: number) =>
    remoteWriteMiB(lab(), lvm.dev(lvOf('current')), pattern, offsetMiB);
  const config = (snapshots: string[]) =>
    lvm.writeConfig({
      disks: {
        [DISK]: {
          storage: VG,
          size: '64MiB',
          ...(snapshots.length > 0 ? { snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) } : {}),
        },
      },
    });
  const tagOf = async (lv: string, key: string) =>
    (await lvm.lvs())
      .get(lv)
      ?.tags.find((t) => t.startsWith(`lvchain.${key}=`))
      ?.slice(`lvchain.${key}=`.length);
  /** lv_time of an LV as a UTC instant, converted by date(1) in the VM. */
  const bornOf = async (lv: string) => {
    const t = (await must(lab(), ['lvs', '--noheadings', '-o', 'lv_time', `${VG}/${lv}`])).stdout.trim();
    return (await must(lab(), ['date', '-u', '-d', t, '+%Y-%m-%dT%H:%M:%SZ'])).stdout.trim();
  };

  /** The saved plan: nothing left alone, and the disk's changes. */
  async function planOf(name: string): Promise<{ plan: Plan; text: string; exitCode: number }> {
    const file = join(lvm.dir, `${name}.json`);
    const r = await lvm.run(['plan', '--detailed-exitcode', '--now', at(10), '--out', file]);
    expect([0, 2], r.stdout + r.stderr).toContain(r.exitCode);
    const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
    expect(plan.resource_drift, r.stdout).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain('left alone');
    expect(r.stdout + r.stderr).not.toMatch(/meta_mismatch|mixed_ownership/);
    return { plan, text: r.stdout, exitCode: r.exitCode };
  }

  /** Apply, then a plan with no changes: the disk converged. */
  async function converge(): Promise<void> {
    const r = await lvm.run(['apply', '--auto-approve', '--now', at(10)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const again = await lvm.run(['plan', '--detailed-exitcode', '--now', at(10)]);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  }

  /** Each snapshot and the top show what they held; each snapshot carries its name and time. */
  async function expectViewsAndTimes(snaps: string[]): Promise<void> {
    expect(await viewOf('current'), 'what the top shows').toBe(views.get('current'));
    for (const s of snaps) {
      expect(await viewOf(s), `what ${s} shows`).toBe(views.get(s));
      expect(await tagOf(lvOf(s), 'snap'), `${s}'s name tag`).toBe(s);
      expect(await tagOf(lvOf(s), 'created'), `${s}'s time`).toBe(recorded.get(s));
    }
  }

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, VG, vm.devices[0]);
    pve = new ProxmoxSequences(vm, VG, DISK);
    const taken: string[] = [];
    await config(taken);
    expect((await lvm.run(['apply', '--auto-approve', '--now', at(0)])).exitCode).toBe(0);
    for (const [i, snap] of ['s1', 's2', 's3', 's4'].entries()) {
      await write(0x11 * (i + 1), i);
      taken.push(snap);
      await config(taken);
      const r = await lvm.run(['apply', '--auto-approve', '--now', at(i + 1)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      views.set(snap, await viewOf(snap));
      recorded.set(snap, (await tagOf(lvOf(snap), 'created')) as string);
    }
    await write(0x55, 4);
    views.set('current', await viewOf('current'));
    expect(new Set(views.values()).size, 'every layer shows different data').toBe(5);
    expect(recorded.get('s1')).toBe(at(1));
  }, 600_000);
  afterAll(async () => lvm?.dispose());

  it('Proxmox deletes the oldest snapshot (commit s2 into s1, rename s1 to s2): lvchain re-derives s2', async () => {
    // s2 was frozen when the LV above it (now s3's) was created: the only trace of its time left.
    const s2Born = await bornOf(lvOf('s3'));
    await pve.deleteSnapshot('s1', undefined, 's2');
    expect(await tagOf(lvOf('s2'), 'snap'), 'the tags moved with the renamed LV').toBe('s1');
    await config(['s2', 's3', 's4']);
    const { plan, text, exitCode } = await planOf('oldest');
    expect(exitCode).toBe(2);
    expect(plan.resource_changes.map((c) => [c.address, c.operation.op])).toEqual([
      [`disk.${DISK}`, 'rederive'],
    ]);
    expect(text).toContain(
      'Proxmox merged s1 into s2 (renamed); metadata re-derived from layer names and links',
    );
    expect(text).toContain(`time of s2: about ${s2Born}, estimated from when the layer above it was created`);
    await converge();
    recorded.set('s2', s2Born);
    await expectViewsAndTimes(['s2', 's3', 's4']);
    expect((await lvm.lvs()).has(lvOf('s1'))).toBe(false);
  });

  it('Proxmox deletes a middle snapshot (rebase s4 onto s2, remove s3): the plan is clean as it is', async () => {
    await pve.deleteSnapshot('s3', 's2', 's4');
    await config(['s2', 's4']);
    const { plan, exitCode } = await planOf('middle');
    expect(plan.resource_changes).toEqual([]);
    expect(exitCode).toBe(0);
    await expectViewsAndTimes(['s2', 's4']);
  });

  it('Proxmox rolls back to s4 (remove the top, create it again): lvchain adopts the new top', async () => {
    await pve.rollback('s4');
    const { plan, text } = await planOf('rollback');
    expect(plan.resource_changes.map((c) => c.operation)).toEqual([
      {
        op: 'rederive',
        found: [
          'Proxmox recreated the top on snapshot s4 (a rollback)',
          'adopted the layers Proxmox created: the top',
        ],
        estimated: [],
      },
    ]);
    expect(text).not.toContain('estimated');
    await converge();
    views.set('current', views.get('s4') as string);
    await expectViewsAndTimes(['s2', 's4']);
    expect(await tagOf(lvOf('current'), 'size')).toBe(String(64 * MiB));
  });

  it('Proxmox takes snapshot pve1: lvchain adopts it as external, dated by the top it created, and keeps the rest', async () => {
    await write(0x66, 5);
    const pve1View = await viewOf('current');
    await pve.snapshot('pve1');
    const pve1Born = await bornOf(lvOf('current'));
    const { plan, text } = await planOf('snapshot');
    expect(plan.resource_changes.map((c) => c.operation.op)).toEqual(['rederive']);
    expect(text).toContain('Proxmox took snapshot pve1 (the top renamed)');
    expect(text).toContain(
      `time of pve1: about ${pve1Born}, estimated from when the layer above it was created`,
    );
    await converge();
    expect(await tagOf(lvOf('pve1'), 'kind'), 'never pruned by lvchain').toBe('external');
    views.set('pve1', pve1View);
    views.set('current', pve1View);
    recorded.set('pve1', pve1Born);
    await expectViewsAndTimes(['s2', 's4', 'pve1']);
  });

  it("import of a chain nobody tagged dates a Proxmox VM's snapshot by the config's snaptime, not by an estimate", async () => {
    const disk = 'vm-402-disk-0';
    const root = '/srv/pve';
    const guest = { storage: VG, disks: { [disk]: { size: '16MiB' } } };
    await lvm.writeConfig({ guests: { g402: guest } });
    expect((await lvm.run(['apply', '--auto-approve', '--now', at(10)])).exitCode).toBe(0);
    const tags = ((await lvm.lvs()).get(`${disk}.qcow2`)?.tags ?? []).filter((t) => t.startsWith('lvchain.'));
    await must(lab(), ['lvchange', ...tags.flatMap((t) => ['--deltag', t]), `${VG}/${disk}.qcow2`]);
    await new ProxmoxSequences(lab(), VG, disk).snapshot('before');
    const section = `boot: order=scsi0\nmemory: 512\nname: rt\nscsi0: san1:${disk}.qcow2,size=16M\n`;
    const files: Record<string, string> = {
      'storage.cfg': `lvm: san1\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n\tsnapshot-as-volume-chain 1\n`,
      '.vmlist': '{\n"version": 3,\n"ids": {\n"402": { "node": "pve1", "type": "qemu", "version": 2 }}\n}\n',
      'nodes/pve1/qemu-server/402.conf': `${section}parent: before\n\n[before]\n${section}snaptime: ${T / 1000}\n`,
    };
    await must(lab(), ['mkdir', '-p', `${root}/priv/lock`]);
    for (const [name, text] of Object.entries(files))
      await must(lab(), [
        'sh',
        '-c',
        'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"',
        'w',
        `${root}/${name}`,
        text,
      ]);
    // The VM is placed on this node, which answers `qm status` (stand-in): stopped, no pid file.
    await installQmStandIn(lab());
    await lvm.writeConfig({
      hosts: { lab: { ...(lvm.host().lab as object), proxmox: { root, node: 'pve1' } } },
      guests: { g402: { ...guest, vm: { proxmox: 402 } } },
    });
    const r = await lvm.run(['import', VG, disk, '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`snapshot before: taken ${at(0)} (the VM config's snaptime)`);
    expect(await tagOf(`snap_${disk}_before.qcow2`, 'created')).toBe(at(0));
  });
});
