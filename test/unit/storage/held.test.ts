/**
 * The /proc/locks reading behind apply's look at a directory disk (src/storage/dir/held.ts),
 * against lines the kernel printed while qemu-io held a chain open (test/fixtures/linux/capture.sh).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockKey, parseProcLocks } from '../../../src/storage/dir/held.js';

const dir = join(__dirname, '../../fixtures/linux');
const locks = readFileSync(join(dir, 'proc-locks-qemu-io.txt'), 'utf8');
const files = readFileSync(join(dir, 'proc-locks-qemu-io.stat'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const [name, dev, ino, major, minor] = l.split(' ') as [string, string, string, string, string];
    return { name, dev: BigInt(dev), ino: BigInt(ino), major: Number(major), minor: Number(minor) };
  });

describe('/proc/locks', () => {
  it('names each file qemu-io held by the key lockKey makes of its st_dev and inode', () => {
    const held = parseProcLocks(locks);
    expect(files.map((f) => f.name)).toEqual(['base.qcow2', 'top.qcow2']);
    for (const f of files) {
      expect(held.has(lockKey(f.dev, f.ino)), f.name).toBe(true);
      // The device half is stat's own major and minor, printed as the kernel prints them.
      expect(lockKey(f.dev, f.ino)).toBe(
        `${f.major.toString(16).padStart(2, '0')}:${f.minor.toString(16).padStart(2, '0')}:${f.ino}`,
      );
    }
    expect(held.size).toBe(2);
  });

  it('does not take a file on another device or with another inode for a held one', () => {
    const held = parseProcLocks(locks);
    const [f] = files;
    if (!f) throw new Error('fixture has no files');
    expect(held.has(lockKey(f.dev, f.ino + 1000n))).toBe(false);
    expect(held.has(lockKey(f.dev + 1n, f.ino))).toBe(false);
  });

  it('splits device numbers above 255 as glibc does (major 259, minor 65536)', () => {
    // makedev(259, 65536): the minor's high bits sit above the major's in st_dev.
    const dev = (259n << 8n) | (0x10000n << 12n);
    expect(lockKey(dev, 7n)).toBe('103:10000:7');
  });
});
