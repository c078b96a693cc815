/**
 * Whether a process holds image files, told without starting qemu-img: QEMU takes OFD locks on
 * every image it opens, and the kernel lists each lock in /proc/locks by device and inode. On a
 * file system whose locks are all local, no line for a file means no QEMU (and no qemu-img) has
 * it open, which is what qemu-img's own locking look would find. Elsewhere (NFS, where another
 * node's locks live on the server; btrfs, whose lock lines name another device number than stat)
 * the answer is "unknown" and the caller asks qemu-img.
 */
import { readFile, stat, statfs } from 'node:fs/promises';

/** statfs magic numbers of local file systems whose lock lines carry the device stat reports. */
const LOCAL_LOCKS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x01021994, // tmpfs
]);

/** A file's key as /proc/locks prints it: major and minor in hex, then the inode. */
export function lockKey(dev: bigint, ino: bigint): string {
  // glibc's gnu_dev_major and gnu_dev_minor of the st_dev stat reports.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`;
}

/** The keys of every file /proc/locks lists a lock (held or awaited) on. */
export function parseProcLocks(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split('\n'))
    for (const field of line.trim().split(/\s+/))
      if (/^[0-9a-f]+:[0-9a-f]+:\d+$/.test(field)) keys.add(field);
  return keys;
}

/**
 * 'none' when every path is on a local file system and no lock is on any of them; 'unknown'
 * otherwise (a lock, a path that is gone, a file system whose locks may live elsewhere).
 */
export async function imageLocks(paths: readonly string[]): Promise<'none' | 'unknown'> {
  const locks = await readFile('/proc/locks', 'utf8').catch(() => undefined);
  if (locks === undefined) return 'unknown';
  const held = parseProcLocks(locks);
  for (const path of paths) {
    const [st, fs] = await Promise.all([
      stat(path, { bigint: true }).catch(() => undefined),
      statfs(path).catch(() => undefined),
    ]);
    if (!st || !fs || !LOCAL_LOCKS.has(fs.type)) return 'unknown';
    if (held.has(lockKey(st.dev, st.ino))) return 'unknown';
  }
  return 'none';
}
