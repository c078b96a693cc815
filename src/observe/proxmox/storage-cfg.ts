/**
 * `storage.cfg` (pvesm(1), "Storage Configuration"): sections `<type>: <id>`, each followed by
 * indented `key value` lines, separated by blank lines; `#` starts a comment. A boolean written
 * without a value (`disable`) is true, as Proxmox's section parser reads it.
 */
import type { PveStorage } from '../../model/proxmox.js';
import { pveFileError } from './errors.js';

const HEADER = /^(\S+):\s*(\S+)\s*$/;
const OPTION = /^\s+(\S+)(?:\s+(.*\S))?\s*$/;
const STORAGE_ID = /^[a-z][a-z0-9._-]*[a-z0-9]$/i;
const FLAGS = new Set(['disable', 'shared', 'snapshot-as-volume-chain']);

export function parseStorageCfg(text: string, file: string): PveStorage[] {
  const storages: PveStorage[] = [];
  let current: PveStorage | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = i + 1;
    if (/^\s*(#.*)?$/.test(raw)) {
      if (raw.trim() === '') current = undefined;
      continue;
    }
    const header = HEADER.exec(raw);
    if (header && !/^\s/.test(raw)) {
      const [, type, id] = header as unknown as [string, string, string];
      if (!STORAGE_ID.test(id)) throw pveFileError(file, line, `"${id}" is not a storage ID`);
      if (storages.some((s) => s.id === id))
        throw pveFileError(file, line, `storage "${id}" is defined twice`);
      current = {
        type,
        id,
        line,
        shared: false,
        snapshotAsVolumeChain: false,
        content: [],
        disable: false,
        options: {},
      };
      storages.push(current);
      continue;
    }
    const option = OPTION.exec(raw);
    if (!option) throw pveFileError(file, line, `neither a "<type>: <id>" header nor an indented option`);
    if (!current) throw pveFileError(file, line, 'an option outside any storage section');
    const [, key, given] = option as unknown as [string, string, string | undefined];
    if (Object.hasOwn(current.options, key))
      throw pveFileError(file, line, `"${key}" is set twice for storage "${current.id}"`);
    const value = given ?? (FLAGS.has(key) ? '1' : undefined);
    if (value === undefined) throw pveFileError(file, line, `"${key}" has no value`);
    current.options[key] = value;
    apply(current, key, value, file, line);
  }
  return storages;
}

function apply(s: PveStorage, key: string, value: string, file: string, line: number): void {
  if (FLAGS.has(key)) {
    if (value !== '0' && value !== '1')
      throw pveFileError(file, line, `${key} must be 0 or 1, not "${value}"`);
    const on = value === '1';
    if (key === 'disable') s.disable = on;
    else if (key === 'shared') s.shared = on;
    else s.snapshotAsVolumeChain = on;
  } else if (key === 'vgname') s.vgname = value;
  else if (key === 'path') s.path = value;
  else if (key === 'content') s.content = list(value);
  else if (key === 'nodes') s.nodes = list(value);
}

const list = (value: string) =>
  value
    .split(/[,;\s]+/)
    .map((v) => v.trim())
    .filter((v) => v !== '');
