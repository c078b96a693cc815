/**
 * Issue 11 part 5 on a directory storage: Proxmox's file sequences (test/helpers/
 * proxmox-sequences.ts) on a disk lvchain made. lvchain's sidecar is keyed by file name, so a
 * renamed file finds the metadata of the name it takes: after Proxmox deletes the oldest
 * snapshot, the merged file under s2's name reads s2's own record, and a rollback's new top
 * reads the top's. Only a snapshot Proxmox takes has no record: lvchain adopts it, dated by the
 * file's last write and marked as an estimate. Through it all, every view reads the data it held
 * and every recorded time is kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { viewDigest, writePattern } from '../helpers/data.js';
import { ProxmoxDirSequences } from '../helpers/proxmox-sequences.js';
import type { Plan } from '../../src/model/plan.js';

const DISK = 'vm-401-disk-0';
const MiB = 1024 * 1024;
const T = Date.parse('2026-03-01T08:00:00Z');
const at = (hours: number) => new Date(T + hours * 3_600_000).toISOString().replace('.000Z', 'Z');

interface SidecarFile {
  layers: Record<string, { snap?: string; created?: string; kind?: string }>;
}

describe('Proxmox round trips on a directory disk lvchain made', () => {
  let lab: DirLab;
  let pve: ProxmoxDirSequences;
  const views = new Map<string, string>();
  const recorded = new Map<string, string>();
  const path = (snap: string) => (snap === 'current' ? lab.top(DISK) : lab.snap(DISK, snap));
  const sidecar = async () =>
    JSON.parse(await readFile(join(lab.diskDir(DISK), `${DISK}.lvchain.json`), 'utf8')) as SidecarFile;
  const metaOf = async (snap: string) => (await sidecar()).layers[`snap-${snap}-${DISK}.qcow2`];

  async function planOf(name: string): Promise<{ plan: Plan; text: string; exitCode: number }> {
    const file = join(lab.root, `${name}.json`);
    const r = await lab.run(['plan', '--detailed-exitcode', '--now', at(10), '--out', file]);
    expect([0, 2], r.stdout + r.stderr).toContain(r.exitCode);
    const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
    expect(plan.resource_drift, r.stdout).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain('left alone');
    return { plan, text: r.stdout, exitCode: r.exitCode };
  }

  async function expectViewsAndTimes(snaps: string[]): Promise<void> {
    expect(await viewDigest(path('current')), 'what the top shows').toBe(views.get('current'));
    for (const s of snaps) {
      expect(await viewDigest(path(s)), `what ${s} shows`).toBe(views.get(s));
      expect((await metaOf(s))?.created, `${s}'s time`).toBe(recorded.get(s));
    }
  }

  beforeAll(async () => {
    lab = await DirLab.create();
    pve = new ProxmoxDirSequences(lab.diskDir(DISK), DISK);
    const taken: string[] = [];
    await lab.writeConfig({ [DISK]: { size: '16MiB' } });
    await lab.apply('--now', at(0));
    for (const [i, snap] of ['s1', 's2', 's3', 's4'].entries()) {
      await writePattern(path('current'), i * MiB, MiB, 0x11 * (i + 1));
      taken.push(snap);
      await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: taken } });
      await lab.apply('--now', at(i + 1));
      views.set(snap, await viewDigest(path(snap)));
      recorded.set(snap, (await metaOf(snap))?.created as string);
    }
    await writePattern(path('current'), 4 * MiB, MiB, 0x55);
    views.set('current', await viewDigest(path('current')));
    expect(new Set(views.values()).size, 'every layer shows different data').toBe(5);
    expect(recorded.get('s2')).toBe(at(2));
  });
  afterAll(async () => lab?.dispose());

  it('deletes (oldest, middle), rollback and a Proxmox snapshot: plans cleanly, converges, keeps data and times', async () => {
    await pve.deleteSnapshot('s1', undefined, 's2');
    await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['s2', 's3', 's4'] } });
    expect((await planOf('oldest')).exitCode, 'the merged file under s2 reads s2’s own record').toBe(0);
    await expectViewsAndTimes(['s2', 's3', 's4']);

    await pve.deleteSnapshot('s3', 's2', 's4');
    await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['s2', 's4'] } });
    expect((await planOf('middle')).exitCode).toBe(0);
    await expectViewsAndTimes(['s2', 's4']);

    await pve.rollback('s4');
    expect((await planOf('rollback')).exitCode).toBe(0);
    views.set('current', views.get('s4') as string);
    await expectViewsAndTimes(['s2', 's4']);

    await writePattern(path('current'), 5 * MiB, MiB, 0x66);
    const lastWrite = new Date((await stat(path('current'))).mtimeMs).toISOString().replace(/\.\d+Z$/, 'Z');
    views.set('pve1', await viewDigest(path('current')));
    await pve.snapshot('pve1');
    const { plan, text, exitCode } = await planOf('snapshot');
    expect(exitCode).toBe(2);
    expect(plan.resource_changes.map((c) => c.operation)).toEqual([
      {
        op: 'rederive',
        found: ['adopted the layers Proxmox created: snapshot pve1'],
        estimated: [{ snap: 'pve1', at: lastWrite, from: 'modified' }],
      },
    ]);
    expect(text).toContain(`time of pve1: about ${lastWrite}, estimated from the image's last modification`);
    await lab.apply('--now', at(10));
    expect((await lab.run(['plan', '--detailed-exitcode', '--now', at(10)])).exitCode).toBe(0);
    expect((await metaOf('pve1'))?.kind, 'never pruned by lvchain').toBe('external');
    views.set('current', views.get('pve1') as string);
    recorded.set('pve1', lastWrite);
    await expectViewsAndTimes(['s2', 's4', 'pve1']);
  });
});
