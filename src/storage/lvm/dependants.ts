/**
 * Foreign images on a VG that use an lvchain layer as their backing: an LV whose qcow2 header
 * names the layer, relatively (`snap_vm-100-disk-0_s1.qcow2`, resolved in `/dev/<vg>/`) or by
 * a device path. Only active LVs can be read, and lvchain never activates an LV it does not
 * own; README says what that leaves unseen.
 */
import { normalize } from 'node:path/posix';
import type { Executor } from '../../exec/executor.js';
import type { ObservedDisk } from '../../model/observed.js';
import { parseInfo } from '../../observe/qemu.js';
import type { BackedImage, BackingsRead } from '../dependants.js';
import { jsonSpecMentions, recordDependants } from '../dependants.js';
import { infoArgv } from '../headers.js';

/** device-mapper's name of an LV: every `-` in either name is doubled. */
function mapperPath(vg: string, lv: string): string {
  return `/dev/mapper/${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

/**
 * An active LV and, for BackingsRead, its identity: its uuid and size. lvs cannot see a header
 * rewritten in place, so the driver drops the entries of a disk's layers before it changes that
 * disk; another tool could otherwise only change a backing by making, renaming, resizing or
 * activating an LV, which the identity or the list of active LVs shows.
 */
export interface ActiveLv {
  name: string;
  identity?: string;
}

export async function findLvmDependants(
  exec: Executor,
  vg: string,
  disks: readonly ObservedDisk[],
  /** Active LVs of the VG, any owner; each disk's own layers are left out of its dependants. */
  active: readonly ActiveLv[],
  /** Apply looks for the dependants of each disk it changes: without this, n² header reads. */
  read?: BackingsRead,
): Promise<void> {
  const cached = (lv: ActiveLv) => {
    const before = lv.identity === undefined ? undefined : read?.get(lv.name);
    return before?.identity === lv.identity ? before : undefined;
  };
  const unread = active.filter((lv) => cached(lv) === undefined);
  const results = await exec.runBatch(unread.map((lv) => infoArgv(`/dev/${vg}/${lv.name}`)));
  const fresh = new Map<string, string | undefined>();
  unread.forEach((lv, i) => {
    const r = results[i];
    if (!r || r.failed) return;
    const backing = parseInfo(r.stdout)[0]?.header.backingPath;
    fresh.set(lv.name, backing);
    if (lv.identity !== undefined) read?.set(lv.name, { identity: lv.identity, backing });
  });
  const images: BackedImage[] = [];
  for (const lv of active) {
    const backing = fresh.has(lv.name) ? fresh.get(lv.name) : cached(lv)?.backing;
    if (backing !== undefined) images.push({ name: lv.name, backing });
  }
  for (const d of disks) {
    const own = new Set(d.layers.map((l) => l.name));
    recordDependants(
      d,
      images.filter((i) => !own.has(i.name)),
      (backing, layer) => {
        const paths = [`/dev/${vg}/${layer}`, mapperPath(vg, layer)];
        return paths.some((p) =>
          backing.startsWith('json:') ? jsonSpecMentions(backing, p) : normalize(backing) === p,
        );
      },
    );
  }
}
