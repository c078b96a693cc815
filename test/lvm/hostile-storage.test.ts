/**
 * Hostile images on thick LVM in the lab VM, over ssh: a foreign LV
 * whose qcow2 backing names an lvchain snapshot layer. A merge of that layer is refused naming
 * the LV, in the plan and at apply, and the foreign LV keeps reading its data. Once the LV is
 * inactive its header cannot be read without activating it, which lvchain never does for an
 * LV it does not own: README documents that limit, and the last test pins it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { withPlanInFlight } from '../helpers/in-flight.js';

const VG = 'vg_hostile';
const DISK = 'vm-950-disk-0';
const S1 = `snap_${DISK}_s1.qcow2`;
const CLONE = 'clone-of-s1.qcow2';

describe('a foreign LV backed by an lvchain layer', () => {
  const lab = useLab({ disks: [{ sizeMiB: 256 }] });
  let lvm: LvmLab;

  const config = (snapshots: string[]) =>
    lvm.writeConfig({
      disks: {
        [DISK]: {
          storage: VG,
          size: '8MiB',
          ...(snapshots.length > 0 ? { snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) } : {}),
        },
      },
    });

  const write = (lv: string, offset: number, pattern: number) =>
    must(lab(), ['qemu-io', '-f', 'qcow2', '-c', `write -P ${pattern} ${offset} 65536`, lvm.dev(lv)]);

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, VG, vm.devices[0]);
    await config([]);
    expect((await lvm.run(['apply', '--auto-approve'])).exitCode).toBe(0);
    await write(`${DISK}.qcow2`, 0, 0x11);
    await config(['s1', 's2']);
    expect((await lvm.run(['apply', '--auto-approve'])).exitCode).toBe(0);
    await write(`${DISK}.qcow2`, 65536, 0x22);
    // A linked clone made by hand: its own LV, backed by the snapshot layer by relative name.
    await must(vm, ['lvcreate', '--yes', '-L', '16m', '-n', CLONE, VG]);
    await must(vm, [
      'qemu-img',
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      S1,
      lvm.dev(CLONE),
      '8M',
    ]);
    await write(CLONE, 131072, 0x77);
    await config(['s2']);
  }, 300_000);
  afterAll(async () => {
    await lvm?.dispose();
  });

  it('plan refuses the merge of the layer, naming the foreign LV', async () => {
    const r = await lvm.run(['plan']);
    expect(r.stdout + r.stderr).toContain(
      `snapshot.${DISK}@s1 is refused: ${S1} is the backing file of ${CLONE}, which lvchain does not manage`,
    );
    expect(r.stdout).not.toContain(`snapshot.${DISK}@s1 will be merged away`);
  });

  it('apply changes nothing: every LV stays, and the clone reads its data', async () => {
    const before = await lvm.lvs();
    const view = await remoteView(lab(), lvm.dev(CLONE), 0);
    const r = await lvm.run(['apply', '--auto-approve']);
    expect(r.stdout + r.stderr).toContain(`${S1} is the backing file of ${CLONE}`);
    expect(await lvm.lvs()).toEqual(before);
    expect((await remoteView(lab(), lvm.dev(CLONE), 0)).digest).toBe(view.digest);
  });

  it('a saved plan made before the clone was there is stopped at apply', async () => {
    const vm = lab();
    await must(vm, ['lvchange', '-an', `${VG}/${CLONE}`]);
    // Inactive: the header cannot be read without activating the LV, so plan proposes the merge.
    const saved = `${lvm.dir}/plan.json`;
    const plan = await lvm.run(['plan', '--out', saved]);
    expect(plan.stdout).toContain(`snapshot.${DISK}@s1 will be merged away`);
    await must(vm, ['lvchange', '-ay', `${VG}/${CLONE}`]);
    const before = await lvm.lvs();
    const view = await remoteView(vm, lvm.dev(CLONE), 0);
    const r = await lvm.run(['apply', '--auto-approve', saved]);
    expect(r.exitCode).toBe(1);
    // Refused by the re-plan of the saved plan, or by apply's own check of the disk.
    expect(r.stdout + r.stderr).toMatch(
      new RegExp(
        `change snapshot\\.${DISK}@s1 is not one the current config and storage plan|${S1.replace(/\./g, '\\.')} is the backing file of ${CLONE.replace(/\./g, '\\.')}`,
      ),
    );
    expect(await lvm.lvs()).toEqual(before);
    expect((await remoteView(vm, lvm.dev(CLONE), 0)).digest).toBe(view.digest);
  });

  it('apply reads the foreign LVs again before it changes the disk', async () => {
    const vm = lab();
    await must(vm, ['lvchange', '-an', `${VG}/${CLONE}`]);
    await withPlanInFlight(lvm.configPath, async ({ plan, apply }) => {
      expect(plan.resource_changes.map((c) => c.address)).toEqual([`snapshot.${DISK}@s1`]);
      await must(vm, ['lvchange', '-ay', `${VG}/${CLONE}`]);
      const before = await lvm.lvs();
      const view = await remoteView(vm, lvm.dev(CLONE), 0);
      const outcome = await apply();
      expect(outcome.failed).toEqual([
        {
          address: `snapshot.${DISK}@s1`,
          message: expect.stringContaining(`${S1} is the backing file of ${CLONE}`) as unknown,
        },
      ]);
      expect(await lvm.lvs()).toEqual(before);
      expect((await remoteView(vm, lvm.dev(CLONE), 0)).digest).toBe(view.digest);
    });
  });
});

describe("apply's searches for linked clones on LVM", () => {
  const lab = useLab({ disks: [{ sizeMiB: 128 }] });
  const SEARCH_VG = 'vg_search';
  const disks = ['vm-961-disk-0', 'vm-962-disk-0', 'vm-963-disk-0'];
  let lvm: LvmLab;
  const config = (snapshots: string[]) =>
    lvm.writeConfig({
      disks: Object.fromEntries(
        disks.map((d) => [
          d,
          { storage: SEARCH_VG, size: '4MiB', snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) },
        ]),
      ),
    });

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, SEARCH_VG, vm.devices[0]);
    await config([]);
    expect((await lvm.run(['apply', '--auto-approve'])).exitCode).toBe(0);
    // Each snapshot holds 64 KiB of its own, so each merge moves data.
    for (const [i, snaps] of [['s1'], ['s1', 's2']].entries()) {
      for (const d of disks)
        await must(vm, [
          'qemu-io',
          '-f',
          'qcow2',
          '-c',
          `write -P ${0x41 + i} ${i * 65536} 65536`,
          lvm.dev(`${d}.qcow2`),
        ]);
      await config(snaps);
      expect((await lvm.run(['apply', '--auto-approve'])).exitCode).toBe(0);
    }
  }, 300_000);
  afterAll(async () => {
    await lvm?.dispose();
  });

  it('read each other LV once a run, and again only once apply changed its disk', async () => {
    const views = new Map<string, string>();
    for (const d of disks) views.set(d, (await remoteView(lab(), lvm.dev(`${d}.qcow2`), 0)).digest);
    await config(['s2']);
    const log = `${lvm.dir}/commands.ndjson`;
    const r = await lvm.run(['--command-log', log, 'apply', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    // The round trips that read single headers (`qemu-img info` without --backing-chain): the
    // plan's read of every active LV, then one search per disk apply merges.
    const reads = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { host: string; argv: string[]; commands?: string[][] })
      .filter((e) => e.host !== 'local')
      .map((e) => e.commands ?? [e.argv])
      .filter((cs) =>
        cs.every((c) => c[0] === 'qemu-img' && c[1] === 'info' && !c.includes('--backing-chain')),
      );
    // 9 LVs; the first search reads the other two disks' 6; each later one only the 2 LVs of
    // the disk merged just before it (read before the change, changed since), not the 5 or 6
    // others, nor its own.
    expect(reads.map((cs) => cs.length)).toEqual([9, 6, 2, 2]);
    const named = (cs: string[][], d: string) => cs.filter((c) => (c.at(-1) ?? '').includes(d)).length;
    expect(named(reads[2] ?? [], disks[0] as string)).toBe(2);
    expect(named(reads[3] ?? [], disks[1] as string)).toBe(2);
    for (const d of disks)
      expect((await remoteView(lab(), lvm.dev(`${d}.qcow2`), 0)).digest).toBe(views.get(d));
  }, 300_000);
});
