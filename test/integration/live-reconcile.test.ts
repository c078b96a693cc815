/**
 * Reconcile against a running VM (DESIGN §12): an hourly policy keeping 3, driven with --now over
 * 8 simulated hours while QEMU holds the disk. Snapshots switch the VM onto new tops, retention
 * merges live, and the VM never stops. The QEMU is qemu-system-x86_64 without a machine (it can
 * pause for a pivot), with an NBD export standing in for the guest.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { fileOf } from '../../src/engines/qmp/graph.js';
import { DirLab } from '../helpers/dirlab.js';
import { diskConfig } from '../helpers/configs.js';
import { ExpectedDisk, viewDigest } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';

const DISK = 'vm-821-disk-0';
const MiB = 1024 * 1024;
const HOUR = 3_600_000;
let lab: DirLab;
let qemu: StorageDaemon | undefined;

afterEach(async () => {
  await qemu?.stop();
  qemu = undefined;
  await lab.dispose();
});

const iso = (t: number) => new Date(t).toISOString();
const auto = (t: number) => `auto-${iso(t).slice(0, 16).replace(/[-:]/g, '')}Z`;

describe('reconcile on a running VM', () => {
  it('keeps exactly the hourly: 3 set over 8 simulated hours, live; every kept snapshot and the guest read back', async () => {
    lab = await DirLab.create('lvchain-live-reconcile-');
    const write = (vm?: Record<string, unknown>) =>
      lab.writeRawConfig(
        diskConfig({
          disk: DISK,
          size: '16MiB',
          policies: { hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { hourly: 3 } } },
          ...(vm ? { policy: 'hourly', vm } : {}),
        }),
      );
    // The clock guard refuses a --now ahead of the clock: the 8 hours end at the last full hour.
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    const start = end - 7 * HOUR;
    await write();
    await lab.apply('--now', iso(start - HOUR));
    qemu = await startStorageDaemon({ [DISK]: lab.top(DISK) }, { exports: 'nbd', process: 'system' });
    await write({ qmp: qemu.qmp, freeze: 'off' });
    const expected = new ExpectedDisk(16 * MiB);
    const views = new Map<string, string>();
    const taken: string[] = [];
    for (let h = 0; h < 8; h++) {
      const now = start + h * HOUR;
      // Each hour the guest rewrites part of the last hour's range and writes a new one.
      await guestWrite(qemu.nbd(DISK), h * MiB, MiB, 0x20 + h);
      expected.write(h * MiB, MiB, 0x20 + h);
      if (h > 0) {
        await guestWrite(qemu.nbd(DISK), (h - 1) * MiB, 128 * 1024, 0x80 + h);
        expected.write((h - 1) * MiB, 128 * 1024, 0x80 + h);
      }
      const r = await lab.run(['reconcile', '--now', iso(now)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^lvchain reconcile ok: 1 snapshot\(s\) taken, /);
      taken.push(auto(now));
      views.set(auto(now), expected.digest());
      expect((await qemu.query<{ status: string }>('query-status')).status).toBe('running');
      expect(await guestView(qemu.nbd(DISK))).toBe(expected.digest());
    }
    expect(await lab.snapshotsOf(DISK)).toEqual(taken.slice(-3));
    const pruned = await lab.run(['plan', '--now', iso(end), '--detailed-exitcode']);
    expect(pruned.exitCode, pruned.stdout + pruned.stderr).toBe(0);
    for (const name of taken.slice(-3))
      expect(await viewDigest(lab.snap(DISK, name)), name).toBe(views.get(name));
    // QEMU's graph names only files that exist, under their current names.
    const nodes = await qemu.query<{ file: string }[]>('query-named-block-nodes', { flat: true });
    for (const n of nodes) await expect(stat(fileOf(n)), fileOf(n)).resolves.toBeDefined();
    await qemu.stop();
    qemu = undefined;
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
  });
});
