/**
 * Which images on a storage use a disk's layer as their backing file, from the outside: a
 * linked clone in another VM's folder, another disk's layer, a foreign LV. Merging or removing
 * such a layer would take the image's data away (DESIGN §9), so the backends record them on
 * the layer and the planner refuses any change that touches it.
 */
import type { ObservedDisk } from '../model/observed.js';

/** An image that is not one of the disk's own layers, with its backing as qemu-img resolved it. */
export interface BackedImage {
  /** Path or LV name, as shown to the admin. */
  name: string;
  backing: string;
}

/**
 * Backing names read in one run, by image (a path, or an LV name), each with the identity of the
 * image it was read from: a later search of the same run reads again only what has a new one.
 * Each backend says what its identity covers.
 */
export type BackingsRead = Map<string, { identity: string; backing: string | undefined }>;

/**
 * Record on each layer of `disk` the images whose backing is that layer. `identify` maps a
 * backing string and a layer to whether they name the same image (paths compared by inode on
 * directories, by device name on LVM).
 */
export function recordDependants(
  disk: ObservedDisk,
  images: readonly BackedImage[],
  sameImage: (backing: string, layerName: string) => boolean,
): void {
  for (const layer of disk.layers) {
    const users = images.filter((i) => sameImage(i.backing, layer.name)).map((i) => i.name);
    if (users.length > 0) layer.dependants = [...new Set(users)].sort();
    else delete layer.dependants;
  }
}

/**
 * A `json:` backing spec names its file inside the JSON; the layer counts as used when its
 * path appears anywhere in it, which can only over-report.
 */
export function jsonSpecMentions(backing: string, path: string): boolean {
  return backing.startsWith('json:') && backing.includes(path);
}
