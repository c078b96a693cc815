/**
 * Linked clones on a directory storage: every qcow2 file under `images/` that is not a layer
 * of the disk in question and whose backing file is one of its layers (Proxmox puts a clone in
 * its own VM folder with a backing such as `../100/base-100-disk-0.qcow2`). Local headers are
 * cheap, so both plan and apply read them all.
 */
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Executor } from '../../exec/executor.js';
import type { ObservedDisk } from '../../model/observed.js';
import { parseInfo } from '../../observe/qemu.js';
import type { BackedImage, BackingsRead } from '../dependants.js';
import { jsonSpecMentions, recordDependants } from '../dependants.js';
import { infoArgv } from '../headers.js';
import { identityAt } from './entries.js';
import { imagesDir } from './layout.js';

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/**
 * Records the dependants of `disks`' layers. An image whose backing `read` holds under the
 * identity it has now is not read again: apply looks for the dependants of each disk it changes,
 * and reading every other image each time made a run's reads grow with the square of its disks.
 */
export async function findDirDependants(
  exec: Executor,
  root: string,
  disks: readonly ObservedDisk[],
  pathOf: (disk: string, layer: string) => string,
  read: BackingsRead,
): Promise<void> {
  const known = new Map<string, BackedImage>();
  const owner = new Map<string, string>();
  for (const d of disks) {
    for (const l of d.layers) {
      const path = pathOf(d.name, l.name);
      owner.set(path, d.name);
      if (l.header.state === 'read' && l.header.header.backingPath !== undefined)
        known.set(path, { name: path, backing: l.header.header.backingPath });
    }
  }
  const others: { path: string; identity: string }[] = [];
  for (const file of await imageFiles(imagesDir(root))) {
    if (owner.has(file)) continue;
    const identity = await identityAt(file);
    const before = read.get(file);
    if (identity === undefined) continue;
    if (before?.identity === identity) {
      if (before.backing !== undefined) known.set(file, { name: file, backing: before.backing });
      continue;
    }
    const look = await backingInHeader(file);
    if (look.kind === 'ask qemu-img') others.push({ path: file, identity });
    else if (look.kind === 'qcow2') {
      read.set(file, { identity, backing: look.backing });
      if (look.backing !== undefined) known.set(file, { name: file, backing: look.backing });
    }
  }
  const results = await exec.runBatch(others.map((o) => infoArgv(o.path)));
  others.forEach(({ path, identity }, i) => {
    const r = results[i];
    if (!r || r.failed) return;
    const backing = parseInfo(r.stdout)[0]?.header.backingPath;
    read.set(path, { identity, backing });
    if (backing !== undefined) known.set(path, { name: path, backing });
  });

  const keys = new Map<string, string | undefined>();
  const keyOf = async (path: string): Promise<string | undefined> => {
    if (!keys.has(path)) {
      // Compared by inode, so "../900/x.qcow2", an absolute path and a path through a mount's
      // symlink all name the same layer. stat is only read here, never written through.
      const st = await stat(path).catch(() => undefined);
      keys.set(path, st ? `${st.dev}:${st.ino}` : undefined);
    }
    return keys.get(path);
  };
  for (const d of disks) {
    const images = [...known.values()].filter((i) => owner.get(i.name) !== d.name);
    const layerKeys = new Map<string, { path: string; key: string | undefined }>();
    for (const l of d.layers) {
      const path = pathOf(d.name, l.name);
      layerKeys.set(l.name, { path, key: await keyOf(path) });
    }
    const backingKeys = new Map<string, string | undefined>();
    for (const i of images)
      if (!i.backing.startsWith('json:')) backingKeys.set(i.backing, await keyOf(resolve(i.backing)));
    recordDependants(d, images, (backing, layer) => {
      const l = layerKeys.get(layer);
      if (!l) return false;
      if (jsonSpecMentions(backing, l.path)) return true;
      const k = backingKeys.get(backing);
      return k !== undefined && k === l.key;
    });
  }
}

/** Regular files in `images/` and in each of its folders; symlinks are not followed. */
async function imageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile()) out.push(join(dir, e.name));
    else if (e.isDirectory()) {
      const inner = await readdir(join(dir, e.name), { withFileTypes: true }).catch(() => []);
      for (const f of inner) if (f.isFile()) out.push(join(dir, e.name, f.name));
    }
  }
  return out.sort();
}

export type HeaderLook =
  { kind: 'not qcow2' } | { kind: 'qcow2'; backing: string | undefined } | { kind: 'ask qemu-img' };

/**
 * The backing file a qcow2 header names, read from its first bytes (qcow2 spec: the name's offset
 * at byte 8, its length at 16), resolved as qemu-img reports `full-backing-filename`: a name with a
 * protocol or an absolute path as it is, else beside the image. Only qcow2 can have a backing
 * file, so the rest is skipped without starting qemu-img; a header this does not plainly
 * understand is left to qemu-img. An image changed by the merge apply just ran is read again
 * for each later disk's search, so this keeps that search free of commands.
 */
export async function backingInHeader(path: string): Promise<HeaderLook> {
  // O_NONBLOCK: a file swapped for a FIFO after the listing must not hang the read.
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    () => undefined,
  );
  if (!fh) return { kind: 'not qcow2' };
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await fh.read(head, 0, 20, 0);
    if (bytesRead < 4 || !head.subarray(0, 4).equals(QCOW2_MAGIC)) return { kind: 'not qcow2' };
    if (bytesRead < 20) return { kind: 'ask qemu-img' };
    const version = head.readUInt32BE(4);
    const offset = head.readBigUInt64BE(8);
    const length = head.readUInt32BE(16);
    if (version !== 2 && version !== 3) return { kind: 'ask qemu-img' };
    if (offset === 0n) return { kind: 'qcow2', backing: undefined };
    // qemu refuses longer names; a name past the first 2 MiB (the largest cluster) is suspect.
    if (length === 0 || length > 1023 || offset + BigInt(length) > 2n * 1024n * 1024n)
      return { kind: 'ask qemu-img' };
    const raw = Buffer.alloc(length);
    const got = await fh.read(raw, 0, length, Number(offset));
    if (got.bytesRead !== length || raw.includes(0)) return { kind: 'ask qemu-img' };
    const name = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    const slash = name.indexOf('/');
    const colon = name.indexOf(':');
    const asIs = name.startsWith('/') || (colon >= 0 && (slash < 0 || colon < slash));
    // Joined as qemu joins it, without normalising, so messages show what qemu-img would.
    return { kind: 'qcow2', backing: asIs ? name : `${dirname(path)}/${name}` };
  } catch {
    return { kind: 'ask qemu-img' };
  } finally {
    await fh.close();
  }
}
