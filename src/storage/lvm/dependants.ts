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
import type { BackedImage } from '../dependants.js';
import { jsonSpecMentions, recordDependants } from '../dependants.js';
import { infoArgv } from '../headers.js';

/** device-mapper's name of an LV: every `-` in either name is doubled. */
function mapperPath(vg: string, lv: string): string {
  return `/dev/mapper/${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

export async function findLvmDependants(
  exec: Executor,
  vg: string,
  disks: readonly ObservedDisk[],
  /** Active LVs of the VG, any owner; each disk's own layers are left out of its dependants. */
  active: readonly string[],
): Promise<void> {
  const results = await exec.runBatch(active.map((lv) => infoArgv(`/dev/${vg}/${lv}`)));
  const images: BackedImage[] = [];
  active.forEach((lv, i) => {
    const r = results[i];
    if (!r || r.failed) return;
    const backing = parseInfo(r.stdout)[0]?.header.backingPath;
    if (backing !== undefined) images.push({ name: lv, backing });
  });
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
