/**
 * A storage host that lacks a tool lvchain runs there is told apart from every other failure
 * (DESIGN §9): the error names the tool, its Debian package and the host, on the real lab VM over
 * ssh. Each test hides one program (moves it aside) and puts it back, even on failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/vm.js';
import { LvmLab, must } from '../helpers/lvmlab.js';

const VG = 'vg_tools';
const DISK = 'vm-970-disk-0';

describe('missing tools on an LVM host', () => {
  const lab = useLab({ disks: [{ sizeMiB: 256 }] });
  let lvm: LvmLab;

  const config = (opts: { snapshots?: string[]; extra?: string[]; wipe?: string } = {}) =>
    lvm.writeConfig(
      {
        disks: Object.fromEntries(
          [DISK, ...(opts.extra ?? [])].map((d) => [
            d,
            {
              storage: VG,
              size: '8MiB',
              ...(d === DISK && opts.snapshots && opts.snapshots.length > 0
                ? { snapshots: Object.fromEntries(opts.snapshots.map((s) => [s, {}])) }
                : {}),
            },
          ]),
        ),
      },
      opts.wipe ? { wipe: opts.wipe } : {},
    );

  /** Runs `fn` with `tool` moved aside on the lab host; puts it back whatever happens. */
  const without = async <T>(tool: string, fn: () => Promise<T>): Promise<T> => {
    const vm = lab();
    const path = (await must(vm, ['sh', '-c', `command -v ${tool}`])).stdout.trim();
    expect(path, `${tool} is on the lab host`).toMatch(/^\//);
    await must(vm, ['mv', path, `${path}.hidden`]);
    try {
      return await fn();
    } finally {
      await must(vm, ['mv', `${path}.hidden`, path]);
    }
  };

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, VG, vm.devices[0]);
    await config({ snapshots: ['s1'] });
    const r = await lvm.run(['apply', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => lvm.dispose());

  it('lvm: plan names it and its package', async () => {
    const r = await without('lvm', () => lvm.run(['plan']));
    expect(r.exitCode).toBe(1);
    // A plan's one LVM command is the VG's pvs report.
    expect(r.stderr).toMatch(/\bpvs is not installed on root@127\.0\.0\.1:\d+ \(Debian package lvm2\)/);
  });

  it('flock: apply names it before it changes anything', async () => {
    await config({ snapshots: ['s1', 's2'] });
    const before = await lvm.lvs();
    const r = await without('flock', () => lvm.run(['apply', '--auto-approve']));
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toContain('flock is not installed there (Debian package util-linux)');
    expect(r.stdout + r.stderr).not.toContain('holder left no information');
    expect(await lvm.lvs()).toEqual(before);
    await config({ snapshots: ['s1'] });
  });

  it('qemu-img: a plan that needs merge figures names it, and nothing changes', async () => {
    // Removing the pinned s1 merges it away: the plan reads allocation with qemu-img map.
    await config({ snapshots: [] });
    const before = await lvm.lvs();
    const r = await without('qemu-img', () => lvm.run(['apply', '--auto-approve']));
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /qemu-img is not installed on root@127\.0\.0\.1:\d+ \(Debian package qemu-utils\)/,
    );
    expect(await lvm.lvs()).toEqual(before);
    await config({ snapshots: ['s1'] });
  });

  it('blkdiscard: a wipe names it, and the next apply finishes the operation', async () => {
    const extra = 'vm-971-disk-0';
    await config({ snapshots: ['s1'], extra: [extra], wipe: 'zeroout-on-create' });
    const r = await without('blkdiscard', () => lvm.run(['apply', '--auto-approve']));
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /blkdiscard is not installed on root@127\.0\.0\.1:\d+ \(Debian package util-linux\)/,
    );
    // The create was recorded before the wipe: with the tool back, apply finishes it.
    const resumed = await lvm.run(['apply', '--auto-approve']);
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    expect((await lvm.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
    expect([...(await lvm.lvs()).keys()]).toContain(`${extra}.qcow2`);
  });
});
