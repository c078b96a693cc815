/**
 * A booted guest whose two-or-more disks are the tops of one lvchain guest `db` on a directory
 * storage, each formatted ext4 before boot: the setup the live-engine guest tests share.
 */
import { afterAll } from 'vitest';
import { formatExt4 } from '../helpers/guest-disk.js';
import { DirLab } from '../helpers/dirlab.js';
import { guestConfig } from '../helpers/configs.js';
import { useGuest, type Guest } from '../helpers/guest.js';
import { assertGuestTools } from './build.js';

export function useDirGuest(
  prefix: string,
  disks: readonly string[],
): {
  guest: () => Guest;
  lab: () => DirLab;
  config: (snapshots: string[], vm?: Record<string, unknown>) => Promise<void>;
} {
  let lab: DirLab | undefined;
  afterAll(async () => {
    await lab?.dispose();
  });
  const current = () => {
    if (!lab) throw new Error('the guest is not set up yet');
    return lab;
  };
  const config = async (snapshots: string[], vm?: Record<string, unknown>) =>
    current().writeRawConfig(
      guestConfig({ guest: 'db', disks, size: '64MiB', snapshots, ...(vm ? { vm } : {}) }),
    );
  const guest = useGuest(async () => {
    assertGuestTools();
    lab = await DirLab.create(prefix);
    await config([]);
    await lab.apply();
    for (const d of disks) await formatExt4(lab.top(d));
    return { disks: disks.map((d, i) => ({ id: `d${i}`, image: current().top(d) })) };
  });
  return { guest, lab: current, config };
}
