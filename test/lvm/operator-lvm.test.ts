/**
 * Issue 12 on LVM in the lab VM, on a VG lvchain created from `pvs:`: a device added to `pvs:`
 * later is refused by name rather than planned as "No changes".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
