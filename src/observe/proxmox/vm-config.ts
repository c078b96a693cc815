/**
 * A VM's `qemu-server/<vmid>.conf` (qm.conf(5)): `key: value` lines for the current state, then
 * one `[snapname]` section per snapshot, a copy of the config then plus `parent`, `snaptime` and
 * `vmstate`. `#` lines at the top of a section are its description, percent-encoded. `[PENDING]`
 * (changes waiting for a reboot) and `[special:…]` sections are not snapshots and are skipped.
 */
import type { PveConfigSection, PveDiskLine, PveVmConfig } from '../../model/proxmox.js';
import { pveFileError } from './errors.js';

const SECTION = /^\[([^\]]+)\]\s*$/;
const KEY = /^([a-z][a-z0-9_-]*):\s*(.*?)\s*$/;
const SNAPSHOT_NAME = /^[a-z][a-z0-9_-]+$/i;
const DISK_KEY = /^(ide|sata|scsi|virtio|efidisk|tpmstate|unused)\d+$/;
const VOLID = /^([a-z][a-z0-9._-]*[a-z0-9]):(\S+)$/i;

export function parseVmConfig(text: string, vmid: number, file: string): PveVmConfig {
  const main = section(1);
  const snapshots: Record<string, PveConfigSection> = {};
  let current: PveConfigSection | undefined = main;
  let description: string[] | undefined = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = i + 1;
    if (raw.trim() === '') continue;
    if (raw.startsWith('#')) {
      // Only the comment lines above a section's first key are its description.
      description?.push(raw.slice(1));
      continue;
    }
    if (current && description && description.length > 0) current.description = decode(description);
    description = undefined;
    const header = SECTION.exec(raw);
    if (header) {
      const name = header[1] as string;
      description = [];
      if (name === 'PENDING' || name.startsWith('special:')) {
        current = undefined;
        continue;
      }
      if (!SNAPSHOT_NAME.test(name)) throw pveFileError(file, line, `"[${name}]" is not a snapshot name`);
      if (Object.hasOwn(snapshots, name)) throw pveFileError(file, line, `snapshot "${name}" appears twice`);
      current = snapshots[name] = section(line);
      continue;
    }
    const kv = KEY.exec(raw);
    if (!kv) throw pveFileError(file, line, `"${raw}" is not a "key: value" line`);
    if (!current) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    if (Object.hasOwn(current.options, key))
      throw pveFileError(file, line, `"${key}" appears twice in a section`);
    current.options[key] = value;
    read(current, key, value, file, line);
  }
  if (current && description && description.length > 0) current.description = decode(description);
  return { vmid, main, snapshots };
}

function section(line: number): PveConfigSection {
  return { line, disks: [], options: {} };
}

function read(s: PveConfigSection, key: string, value: string, file: string, line: number): void {
  switch (key) {
    case 'parent':
    case 'vmstate':
    case 'lock':
    case 'snapstate':
    case 'runningmachine':
      s[key] = value;
      return;
    case 'snaptime':
      if (!/^\d+$/.test(value))
        throw pveFileError(file, line, `snaptime "${value}" is not seconds since the epoch`);
      s.snaptime = Number(value);
      return;
  }
  if (DISK_KEY.test(key)) s.disks.push(diskLine(key, value, file, line));
}

/** `[file=]<volume>[,key=value…]`; the volume is `storage:volname`, `none`, `cdrom` or a path. */
function diskLine(key: string, value: string, file: string, line: number): PveDiskLine {
  const [first = '', ...rest] = value.split(',');
  const options: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw pveFileError(file, line, `${key}: "${part}" is not a key=value option`);
    options[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const target = first.startsWith('file=') ? first.slice(5) : first;
  const disk: PveDiskLine = { key, line, options };
  const vol = VOLID.exec(target);
  if (vol) disk.volume = { storage: vol[1] as string, volname: vol[2] as string };
  if (options.size !== undefined) disk.size = diskSize(options.size, key, file, line);
  if (options.media !== undefined) disk.media = options.media;
  return disk;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

function diskSize(text: string, key: string, file: string, line: number): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(text);
  if (!m) throw pveFileError(file, line, `${key}: size "${text}" is not a size such as 32G`);
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

/** Proxmox writes each description line with `%XX` escapes for bytes it does not keep verbatim. */
function decode(lines: string[]): string {
  return lines
    .join('\n')
    .replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) =>
      new TextDecoder().decode(Uint8Array.from(run.slice(1).split('%'), (h) => parseInt(h, 16))),
    );
}
