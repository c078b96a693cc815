/** Guests and disks → DesiredDisk and DesiredGuest: sizes checked, references resolved, each disk declared once. */
import type {
  DesiredDisk,
  DesiredGuest,
  DesiredPolicy,
  DesiredStorage,
  DesiredVm,
} from '../model/desired.js';
import { parseSize } from '../base/units.js';
import { isScheduledName } from '../base/names.js';
import type { WrittenConfig } from './schema.js';
import type { WrittenVm } from './schema-vm.js';
import type { PathIssue } from './path.js';
import { known, record } from './declared.js';
import { LV_NAME_MAX, MAX_DISK_SIZE, MIN_DISK_SIZE } from './defaults.js';

export function declareDisks(
  written: WrittenConfig,
  storages: Record<string, DesiredStorage>,
  policies: Record<string, DesiredPolicy>,
  issues: PathIssue[],
): { disks: Record<string, DesiredDisk>; guests: Record<string, DesiredGuest> } {
  const disks: Record<string, DesiredDisk> = record();
  const declaredAt = new Map<string, (string | number)[]>();
  const guests: Record<string, DesiredGuest> = record();

  const addDisk = (disk: DesiredDisk, path: (string | number)[], sizeText: string) => {
    const where = path.slice(0, -1);
    const key = path[path.length - 1] as string;
    const first = declaredAt.get(disk.name);
    if (first) {
      issues.push({
        path: where,
        key,
        message: `disk "${disk.name}" is already declared at ${first.join('.')}; a disk belongs to one guest`,
      });
      return;
    }
    declaredAt.set(disk.name, path);
    const size = parseSize(sizeText);
    if (typeof size !== 'number') issues.push({ path: [...path, 'size'], message: size.error });
    else if (size > MAX_DISK_SIZE)
      issues.push({
        path: [...path, 'size'],
        message: `${sizeText} is too large; a qcow2 image with lvchain's 128KiB clusters and extended L2 holds at most 4PiB`,
      });
    else if (size < MIN_DISK_SIZE)
      issues.push({ path: [...path, 'size'], message: `${sizeText} is too small; disks are at least 1MiB` });
    else if (size % 512 !== 0)
      issues.push({ path: [...path, 'size'], message: `${sizeText} is not a multiple of 512 bytes` });
    if (/^(snap[_-]|del-)/.test(disk.name)) {
      issues.push({
        path: where,
        key,
        message: `disk names cannot start with "snap_", "snap-" or "del-": lvchain uses those for layers`,
      });
    }
    disks[disk.name] = { ...disk, size: typeof size === 'number' ? size : 0 };
  };

  const checkRefs = (path: (string | number)[], storage: string, policy: string | undefined) => {
    if (!Object.hasOwn(storages, storage)) {
      issues.push({
        path: [...path, 'storage'],
        message: `unknown storage "${storage}"${known('volumeGroups or directories', storage, Object.keys(storages))}`,
      });
    }
    if (policy !== undefined && !Object.hasOwn(policies, policy)) {
      issues.push({
        path: [...path, 'policy'],
        message: `unknown policy "${policy}"${known('policies', policy, Object.keys(policies))}`,
      });
    }
  };

  const checkPinned = (path: (string | number)[], diskNames: string[], pinned: string[]) => {
    for (const snap of pinned) {
      if (isScheduledName(snap)) {
        issues.push({
          path: [...path, 'snapshots'],
          key: snap,
          message: `snapshot names starting with "auto-" are reserved for scheduled snapshots`,
        });
      }
      for (const disk of diskNames) {
        const lv = `snap_${disk}_${snap}.qcow2`;
        if (lv.length > LV_NAME_MAX) {
          issues.push({
            path: [...path, 'snapshots'],
            key: snap,
            message: `the snapshot LV name ${lv} would be ${lv.length} characters; LVM allows ${LV_NAME_MAX}`,
          });
        }
      }
    }
  };

  const declareVm = (
    path: (string | number)[],
    written: WrittenVm | undefined,
  ): { vm?: DesiredVm; proxmoxVm?: number } => {
    if (written === undefined) return {};
    if ('proxmox' in written) return { proxmoxVm: written.proxmox };
    const freeze = written.freeze ?? 'try';
    if (freeze === 'required' && written.agent === undefined)
      issues.push({
        path: [...path, 'vm', 'freeze'],
        message: 'freeze: required needs the guest agent socket; add vm.agent, or use freeze: try',
      });
    return {
      vm: { qmp: written.qmp, ...(written.agent !== undefined ? { agent: written.agent } : {}), freeze },
    };
  };

  for (const [gname, g] of Object.entries(written.guests ?? {})) {
    const path = ['guests', gname];
    checkRefs(path, g.storage, g.policy);
    const diskNames = Object.keys(g.disks).sort();
    if (diskNames.length === 0)
      issues.push({ path: [...path, 'disks'], message: 'a guest needs at least one disk' });
    const pinned = Object.keys(g.snapshots ?? {}).sort();
    checkPinned(path, diskNames, pinned);
    const vm = declareVm(path, g.vm);
    guests[gname] = {
      name: gname,
      storage: g.storage,
      policy: g.policy,
      disks: diskNames,
      pinned,
      ...vm,
    };
    for (const dname of diskNames) {
      const d = g.disks[dname] as { size: string; protect?: boolean };
      addDisk(
        {
          name: dname,
          storage: g.storage,
          size: 0,
          protect: d.protect ?? false,
          guest: gname,
          policy: g.policy,
          pinned,
          ...vm,
        },
        [...path, 'disks', dname],
        d.size,
      );
    }
  }
  for (const [dname, d] of Object.entries(written.disks ?? {})) {
    const path = ['disks', dname];
    checkRefs(path, d.storage, d.policy);
    const pinned = Object.keys(d.snapshots ?? {}).sort();
    checkPinned(path, [dname], pinned);
    const vm = declareVm(path, d.vm);
    addDisk(
      {
        name: dname,
        storage: d.storage,
        size: 0,
        protect: d.protect ?? false,
        policy: d.policy,
        pinned,
        ...vm,
      },
      path,
      d.size,
    );
  }
  return { disks, guests };
}
