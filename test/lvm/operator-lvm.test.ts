/**
 * Issue 12 on LVM in the lab VM, on a VG lvchain created from `pvs:`: a device added to `pvs:`
 * later is refused by name rather than planned as "No changes"; `import` dates a snapshot by
 * the creation time of the LV above it, keeps a created time lvchain recorded, and prints the
 * disk as config to paste.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { writeFile } from 'node:fs/promises';
import { useLab } from '../lab/vm.js';
import { LvmLab, must } from '../helpers/lvmlab.js';

const VG = 'vg_san1';
const DISK = 'vm-101-disk-0';
const T = Date.parse('2026-01-05T10:00:00Z');
const at = (minutes: number) => new Date(T + minutes * 60_000).toISOString();

describe('operator experience on a VG lvchain created', () => {
  const lab = useLab({ disks: [{ sizeMiB: 512 }, { sizeMiB: 64 }] });
  let lvm: LvmLab;
  const config = (pvs: string[]) =>
    lvm.writeConfig(
      {
        policies: { hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 3 } } },
        disks: { [DISK]: { storage: VG, size: '64MiB', policy: 'hourly' } },
      },
      { pvs },
    );
  const SNAP = 'auto-20260105T1000Z';
  const TOP_LV = `${DISK}.qcow2`;
  const SNAP_LV = `snap_${DISK}_${SNAP}.qcow2`;
  const SNAP2 = 'auto-20260105T1101Z';
  const SNAP2_LV = `snap_${DISK}_${SNAP2}.qcow2`;
  /** Removes every lvchain tag from these LVs, as a chain another tool made would have none. */
  const untag = async (...lvs: string[]) => {
    const all = await lvm.lvs();
    for (const lv of lvs) {
      const tags = (all.get(lv)?.tags ?? []).filter((t) => t.startsWith('lvchain.'));
      expect(tags.length, lv).toBeGreaterThan(0);
      await must(lab(), ['lvchange', ...tags.flatMap((t) => ['--deltag', t]), `${VG}/${lv}`]);
    }
  };
  const pvsOf = async (device: string) =>
    (await lab().run(['pvs', '--noheadings', '-o', 'vg_name', device])).stdout.trim();

  beforeAll(async () => {
    lvm = await LvmLab.create(lab(), VG, undefined, false);
    await config([lab().devices[0] as string]);
    for (const minutes of [0, 61]) {
      const r = await lvm.run(['apply', '--auto-approve', '--now', at(minutes)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
  });
  afterAll(async () => lvm?.dispose());

  it('refuses a device added to pvs: of the existing VG, naming it, and changes nothing', async () => {
    const [first, added] = lab().devices as [string, string];
    await config([first, added]);
    const before = await lvm.lvs();
    const plan = await lvm.run(['plan', '--detailed-exitcode', '--now', at(62)]);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(1);
    expect(plan.stdout + plan.stderr).toContain(
      `volume group ${VG} does not hold ${added} from pvs:; adding a device to an existing VG (vgextend) is not supported yet`,
    );
    expect(plan.stdout + plan.stderr).toContain(`vgextend ${VG} ${added}`);
    expect((await lvm.run(['apply', '--auto-approve', '--now', at(62)])).exitCode).toBe(1);
    expect(await lvm.lvs()).toEqual(before);
    expect(await pvsOf(added), 'the device is still no PV').toBe('');
    expect((await lab().run(['pvs', added])).exitCode).not.toBe(0);
    // With the device in the VG (extended by hand), pvs: matches again.
    await must(lab(), ['vgextend', VG, added]);
    expect(await pvsOf(added)).toBe(VG);
    const again = await lvm.run(['plan', '--detailed-exitcode', '--now', at(62)]);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  it('import keeps the created time lvchain recorded for a snapshot of a half-owned chain', async () => {
    await untag(TOP_LV);
    const r = await lvm.run(['import', VG, DISK, '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect((await lvm.lvs()).get(SNAP_LV)?.tags).toContain('lvchain.created=2026-01-05T10:00:00Z');
    expect(r.stdout).toContain(`snapshot ${SNAP}: taken 2026-01-05T10:00:00Z (as lvchain recorded it)`);
  });

  it('import dates an untagged snapshot by the creation of the LV above it, and prints the disk as config', async () => {
    await untag(TOP_LV, SNAP_LV, SNAP2_LV);
    /** lv_time of an LV as a UTC instant, converted by date(1) in the VM. */
    const bornOf = async (lv: string) => {
      const t = (await must(lab(), ['lvs', '--noheadings', '-o', 'lv_time', `${VG}/${lv}`])).stdout.trim();
      return (await must(lab(), ['date', '-u', '-d', t, '+%Y-%m-%dT%H:%M:%SZ'])).stdout.trim();
    };
    // Each snapshot froze about when the LV above it was created (a rollback would recreate it).
    const frozen = { [SNAP_LV]: await bornOf(SNAP2_LV), [SNAP2_LV]: await bornOf(TOP_LV) };
    const base = { version: 1, hosts: lvm.host(), volumeGroups: { [VG]: { host: 'lab' } } };
    await writeFile(lvm.configPath, stringify(base));
    const r = await lvm.run(['import', VG, DISK, '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const lvs = await lvm.lvs();
    for (const [lv, at] of Object.entries(frozen))
      expect(lvs.get(lv)?.tags, lv).toContain(`lvchain.created=${at}`);
    expect(r.stdout).toContain(
      `snapshot ${SNAP}: taken about ${frozen[SNAP_LV]} (estimated from when the layer above it was created)`,
    );
    const [, snippet] = r.stdout.split(`To manage it, add this under disks: in ${lvm.configPath}:\n`);
    const [yaml, note] = (snippet as string).split(`\n${SNAP}, ${SNAP2} cannot be pinned`);
    expect(note, 'scheduled names are left out of the pins, and the output says so').toBeDefined();
    const pasted = parse(yaml as string) as { disks: Record<string, unknown> };
    expect(pasted).toEqual({ disks: { [DISK]: { storage: VG, size: '64MiB' } } });
    await writeFile(lvm.configPath, stringify({ ...base, ...pasted }));
    const plan = await lvm.run(['plan', '--detailed-exitcode']);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
  });
});
