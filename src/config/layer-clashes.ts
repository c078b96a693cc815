/** Layer names two disks on one storage would share, or that read back as another disk's layer. */
import type { DesiredStorage } from '../model/desired.js';
import type { LayerRef } from '../model/layer.js';
import { TOP, snapRef, trashRef } from '../model/layer.js';
import { isScheduledName } from '../base/names.js';
import {
  diskFolderName,
  layerFileName,
  lvName,
  parseLayerFileName,
  parseLvName,
} from '../model/layer-names.js';
import { autoSnapshotName } from '../policy/schedule.js';
import type { WrittenConfig } from './schema.js';
import type { PathIssue } from './path.js';

interface NamedLayer {
  disk: string;
  ref: LayerRef;
  /** Where the layer is declared: the map and key to point at. */
  path: (string | number)[];
  key: string;
}

function describeLayer(l: NamedLayer): string {
  switch (l.ref.role) {
    case 'top':
      return `disk "${l.disk}"`;
    case 'snapshot':
      return isScheduledName(l.ref.snap)
        ? `the scheduled snapshots of disk "${l.disk}" (such as ${l.ref.snap})`
        : `snapshot "${l.ref.snap}" of disk "${l.disk}"`;
    case 'trash':
      return `the merge leftover of disk "${l.disk}"`;
  }
}

/**
 * Refuses configs where two disks on one storage would use the same LV or file name, or
 * where a name reads back as another disk's layer: `vm-900-a` with snapshot `q-vm-900-b`
 * and `vm-900-b-vm-900-a` with snapshot `q` are both `snap-q-vm-900-b-vm-900-a.qcow2`.
 * A sample scheduled snapshot name stands in for the ones the schedule will make.
 */
export function sharedLayerNames(
  written: WrittenConfig,
  storages: Record<string, DesiredStorage>,
): PathIssue[] {
  const byStorage = new Map<string, NamedLayer[]>();
  const declare = (
    storage: string,
    disk: string,
    diskPath: (string | number)[],
    snapsPath: (string | number)[],
    pinned: string[],
  ) => {
    if (!Object.hasOwn(storages, storage)) return;
    const layers = byStorage.get(storage) ?? [];
    const sample = snapRef(autoSnapshotName(Date.UTC(2026, 0, 1)));
    for (const ref of [TOP, trashRef(TOP), sample, trashRef(sample)])
      layers.push({ disk, ref, path: diskPath.slice(0, -1), key: String(diskPath[diskPath.length - 1]) });
    for (const snap of pinned)
      for (const ref of [snapRef(snap), trashRef(snapRef(snap))])
        layers.push({ disk, ref, path: snapsPath, key: snap });
    byStorage.set(storage, layers);
  };
  for (const [g, guest] of Object.entries(written.guests ?? {}))
    for (const d of Object.keys(guest.disks))
      declare(
        guest.storage,
        d,
        ['guests', g, 'disks', d],
        ['guests', g, 'snapshots'],
        Object.keys(guest.snapshots ?? {}),
      );
  for (const [d, disk] of Object.entries(written.disks ?? {}))
    declare(disk.storage, d, ['disks', d], ['disks', d, 'snapshots'], Object.keys(disk.snapshots ?? {}));

  const issues: PathIssue[] = [];
  const reported = new Set<string>();
  for (const [name, layers] of byStorage) {
    const storage = storages[name] as DesiredStorage;
    const disksHere = [...new Set(layers.map((l) => l.disk))];
    const folderOf = (disk: string) => (storage.kind === 'dir' ? diskFolderName(disk) : '');
    const nameOf = (l: NamedLayer) =>
      storage.kind === 'dir'
        ? `images/${folderOf(l.disk)}/${layerFileName(l.disk, l.ref)}`
        : lvName(l.disk, l.ref);
    // A name is read against the disks that share its folder, as the storage reads it.
    const peersIn = new Map<string, Set<string>>();
    for (const d of disksHere) peersIn.set(folderOf(d), (peersIn.get(folderOf(d)) ?? new Set()).add(d));
    const parse = (l: NamedLayer) => {
      const peers = peersIn.get(folderOf(l.disk)) ?? new Set();
      return storage.kind === 'dir'
        ? parseLayerFileName(layerFileName(l.disk, l.ref), peers)
        : parseLvName(lvName(l.disk, l.ref), peers);
    };
    const owners = new Map<string, NamedLayer>();
    for (const l of layers) {
      const file = nameOf(l);
      const first = owners.get(file);
      const parsed = parse(l);
      const other =
        first && first.disk !== l.disk
          ? first
          : parsed && parsed.disk !== l.disk
            ? (layers.find((m) => m.disk === parsed.disk) ?? first)
            : undefined;
      if (!first) owners.set(file, l);
      if (!other || l.ref.role === 'trash') continue;
      const pair = [l.disk, other.disk].sort().join('\0');
      if (reported.has(pair)) continue;
      reported.add(pair);
      const how =
        first && first.disk !== l.disk
          ? `the same ${storage.kind === 'dir' ? 'file' : 'LV'} as ${describeLayer(first)}`
          : `a name that reads as a layer of disk "${other.disk}"`;
      issues.push({
        path: l.path,
        key: l.key,
        message: `${describeLayer(l)} would be stored as ${file} on storage "${name}", ${how}; rename one of the disks or snapshots`,
      });
    }
  }
  return issues;
}
