/**
 * What validate checks between the config and a Proxmox node (DESIGN §13): a guest declared
 * `vm: { proxmox: <vmid> }` names a VM that exists, whose config's disk lines hold the guest's
 * disks on a storage ID whose VG or path is the declared storage; and each VG lvchain manages
 * on a node is used by a `snapshot-as-volume-chain` storage, or Proxmox will not treat its
 * qcow2 LVs as chains.
 */
import type { DesiredStorage } from '../../model/desired.js';
import type { PveStorage, PveVmConfig, PveVmList } from '../../model/proxmox.js';

export interface ProxmoxFinding {
  severity: 'error' | 'warning';
  message: string;
}

export interface ProxmoxGuest {
  vmid: number;
  /** The declared storage. */
  storage: DesiredStorage;
  disks: readonly string[];
}

/** The storage IDs of storage.cfg that are this lvchain storage: same VG, or same directory. */
export function storageIdsFor(storage: DesiredStorage, storages: readonly PveStorage[]): PveStorage[] {
  return storages.filter((s) =>
    storage.kind === 'lvm'
      ? s.type === 'lvm' && s.vgname === storage.name
      : s.type === 'dir' && s.path === storage.path,
  );
}

/** Whether the VMID is a VM of the cluster, and on which node: checked before its config is read. */
export function vmListFinding(guest: ProxmoxGuest, list: PveVmList): ProxmoxFinding | undefined {
  const entry = list.ids[String(guest.vmid)];
  if (entry === undefined)
    return { severity: 'error', message: `VM ${guest.vmid} is not in the cluster's VM list (.vmlist)` };
  if (entry.type !== 'qemu')
    return {
      severity: 'error',
      message: `${guest.vmid} is a container (${entry.type}) on ${entry.node}, not a VM`,
    };
  return undefined;
}

export function ownershipFindings(
  guest: ProxmoxGuest,
  config: PveVmConfig,
  storages: readonly PveStorage[],
): ProxmoxFinding[] {
  const findings: ProxmoxFinding[] = [];
  const ids = storageIdsFor(guest.storage, storages);
  const byId = new Map(storages.map((s) => [s.id, s]));
  for (const disk of guest.disks) {
    if (!disk.startsWith(`vm-${guest.vmid}-`))
      findings.push({
        severity: 'error',
        message: `disk ${disk} is not named for VM ${guest.vmid}; Proxmox names its disks vm-${guest.vmid}-disk-N`,
      });
    const lines = config.main.disks.filter((d) => d.volume && volumeDisk(d.volume.volname) === disk);
    const line = lines.find((d) => ids.some((s) => s.id === d.volume?.storage));
    if (line) continue;
    const elsewhere = lines[0];
    if (elsewhere?.volume) {
      const s = byId.get(elsewhere.volume.storage);
      const where =
        s?.vgname !== undefined
          ? `VG ${s.vgname}`
          : s?.path !== undefined
            ? s.path
            : 'a storage storage.cfg does not define';
      findings.push({
        severity: 'error',
        message: `VM ${guest.vmid} has ${disk} (${elsewhere.key}) on storage ${elsewhere.volume.storage}, which is ${where}, not ${guest.storage.name}`,
      });
    } else
      findings.push({
        severity: 'error',
        message: `VM ${guest.vmid}'s config has no disk line for ${disk}${ids.length === 0 ? `, and no storage in storage.cfg is ${guest.storage.name}` : ''}`,
      });
  }
  const declared = new Set(guest.disks);
  for (const d of config.main.disks) {
    if (!d.volume || !ids.some((s) => s.id === d.volume?.storage) || d.key.startsWith('unused')) continue;
    const disk = volumeDisk(d.volume.volname);
    if (!declared.has(disk))
      findings.push({
        severity: 'warning',
        message: `VM ${guest.vmid}'s ${d.key} (${disk}) is on ${guest.storage.name} but not declared; it is not snapshotted with the others`,
      });
  }
  if (config.main.lock !== undefined)
    findings.push({
      severity: 'warning',
      message: `VM ${guest.vmid} is locked by Proxmox (lock: ${config.main.lock})`,
    });
  return findings;
}

/** A VG lvchain manages on a node, seen from storage.cfg. */
export function vgFinding(vg: string, storages: readonly PveStorage[]): ProxmoxFinding | undefined {
  const ids = storages.filter((s) => s.type === 'lvm' && s.vgname === vg);
  if (ids.length === 0)
    return {
      severity: 'warning',
      message: `VG ${vg} is in no storage of storage.cfg: Proxmox does not use it, and lvchain takes no Proxmox lock for it`,
    };
  if (!ids.some((s) => s.snapshotAsVolumeChain))
    return {
      severity: 'warning',
      message: `no snapshot-as-volume-chain storage uses VG ${vg} (${ids.map((s) => s.id).join(', ')}): Proxmox will not read its qcow2 chains`,
    };
  return undefined;
}

/** The disk a volume name holds: `vm-101-disk-0.qcow2` and `101/vm-101-disk-0.qcow2` are `vm-101-disk-0`. */
export function volumeDisk(volname: string): string {
  return (volname.split('/').pop() ?? volname).replace(/\.(qcow2|raw)$/, '');
}
