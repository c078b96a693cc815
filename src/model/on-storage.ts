/** What the config implies for one storage, asked the same way by plan, apply, check and observe. */
import type { Desired, DesiredDisk, DesiredStorage } from './desired.js';

/** The disks the config declares on a storage, in declaration order. */
export function disksOn(desired: Pick<Desired, 'disks'>, storage: string): DesiredDisk[] {
  return Object.values(desired.disks).filter((d) => d.storage === storage);
}

export interface WipeFlags {
  wipeOnFree: boolean;
  wipeOnCreate: boolean;
}

/** Which layers a storage's `wipe:` zeroes; only LVM has the setting, so a directory never wipes. */
export function wipeFlags(storage: DesiredStorage | undefined): WipeFlags {
  const wipe = storage?.kind === 'lvm' ? storage.wipe : 'none';
  return { wipeOnFree: wipe === 'zeroout-on-free', wipeOnCreate: wipe === 'zeroout-on-create' };
}
