/**
 * Proxmox's cluster storage lock on a plain directory standing in for /etc/pve, with the real
 * shell, mkdir, find and touch of this machine (the lab VM test, test/lvm/proxmox-lock.test.ts,
 * runs it around real LVM changes).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  rmdirSync,
  mkdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalExecutor } from '../../../src/exec/local.js';
import { isLvchainError } from '../../../src/base/errors.js';
import { PVE_LOCK_EXPIRY_S, ProxmoxStorageLock } from '../../../src/storage/proxmox/cluster-lock.js';
import type { PveLockDirectory, PveLockHolder } from '../../../src/model/proxmox.js';

const FIXTURE = join(__dirname, '../../fixtures/proxmox/node');

describe("Proxmox's cluster storage lock on a plain directory", () => {
  let root: string;
  let locks: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lvchain-pve-'));
    cpSync(FIXTURE, root, { recursive: true });
    locks = join(root, 'priv/lock');
    // git keeps no empty directories; a node has priv/, and cfs_lock creates priv/lock itself.
    mkdirSync(join(root, 'priv'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const lockFor = (vg: string, r = root) =>
    new ProxmoxStorageLock(new LocalExecutor(), vg, { kind: 'declared', root: r });
  const error = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      if (isLvchainError(e)) return e;
      throw e;
    }
    throw new Error('expected an LvchainError');
  };

  it('holds the lock of every storage ID on the VG while the change runs, and releases them', async () => {
    expect(existsSync(locks)).toBe(false);
    const seen = await lockFor('vg_san1').around('lvcreate of d', async () => readdirSync(locks).sort());
    expect(seen).toEqual(['storage-san1', 'storage-san1-raw']);
    expect(readdirSync(locks)).toEqual([]);
    // A VG no storage ID uses: Proxmox never changes it, so there is nothing to take.
    expect(await lockFor('vg_other').around('x', async () => readdirSync(locks))).toEqual([]);
  });

  it('runs without a lock on a host that is not a node, and refuses a declared root that is not there', async () => {
    const lock = new ProxmoxStorageLock(new LocalExecutor(), 'vg_san1', { kind: 'detect' });
    expect(existsSync('/etc/pve'), 'this test needs a machine that is not a Proxmox node').toBe(false);
    expect(await lock.around('x', async () => 'ran')).toBe('ran');
    const e = await error(lockFor('vg_san1', join(root, 'absent')).around('x', async () => 'ran'));
    expect(e.code).toBe('not_found');
    expect(e.message).toContain('is declared a Proxmox VE node, but');
  });

  it('waits for a live holder, says how long ago it renewed, and gives up with the step not run', async () => {
    mkdirSync(join(locks, 'storage-san1-raw'), { recursive: true });
    const waits: PveLockHolder[] = [];
    const lock = lockFor('vg_san1');
    lock.configure({ waitMs: 0, onWait: (h) => waits.push(h) });
    let ran = false;
    const t0 = Date.now();
    const e = await error(lock.around('lvrename of d', async () => (ran = true)));
    expect(Date.now() - t0, 'waits as long as Proxmox does').toBeGreaterThanOrEqual(10_000);
    expect(e.code).toBe('lock_held');
    expect(e.message).toMatch(
      /storage-san1-raw on local is held \(last renewed \d+s ago\); gave up after 10s, before lvrename of d/,
    );
    expect(ran).toBe(false);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ kind: 'directory', ageSeconds: expect.any(Number) });
    expect((waits[0] as PveLockDirectory).ageSeconds).toBeLessThan(5);
    // The lock it had taken first (name order) is released again; the holder's stays.
    expect(readdirSync(locks)).toEqual(['storage-san1-raw']);
  }, 30_000);

  it('takes over a lock its holder stopped renewing more than 120 s ago, and says so', async () => {
    const stale = join(locks, 'storage-san1');
    mkdirSync(stale, { recursive: true });
    const old = Date.now() / 1000 - PVE_LOCK_EXPIRY_S - 30;
    utimesSync(stale, old, old);
    const expired: PveLockDirectory[] = [];
    const lock = lockFor('vg_san1');
    lock.configure({ waitMs: 0, onExpired: (h) => expired.push(h) });
    const mtime = await lock.around('lvremove of d', async () => statSync(stale).mtimeMs / 1000);
    expect(mtime).toBeGreaterThan(old + PVE_LOCK_EXPIRY_S);
    expect(expired).toEqual([{ kind: 'directory', path: stale, ageSeconds: expect.any(Number) }]);
    expect(expired[0]?.ageSeconds).toBeGreaterThanOrEqual(PVE_LOCK_EXPIRY_S + 30);
    expect(readdirSync(locks)).toEqual([]);
  });

  it('leaves a lock younger than the expiry alone', async () => {
    const young = join(locks, 'storage-san1');
    mkdirSync(young, { recursive: true });
    const recent = Date.now() / 1000 - PVE_LOCK_EXPIRY_S + 20;
    utimesSync(young, recent, recent);
    const lock = lockFor('vg_san1');
    const e = await error(lock.around('x', async () => 'ran'));
    expect(e.code).toBe('lock_held');
    expect(existsSync(young)).toBe(true);
  }, 30_000);

  it('stops the run when the lock is taken away during a change: the change finishes, nothing later runs', async () => {
    const lost: string[] = [];
    const lock = lockFor('vg_san1');
    lock.configure({ waitMs: 0, onLost: (why) => lost.push(why) });
    const e = await error(lock.around('lvextend of d', async () => rmdirSync(join(locks, 'storage-san1'))));
    expect(e.code).toBe('lock_lost');
    expect(e.message).toContain(
      'storage-san1 on local was removed while lvchain held it; lvextend of d finished',
    );
    expect(lost).toHaveLength(1);
    let ran = false;
    const next = await error(lock.around('lvremove of d', async () => (ran = true)));
    expect(next.message).toContain('lvremove of d was not run');
    expect(ran).toBe(false);
    expect(readdirSync(locks), 'the other ID is released').toEqual([]);
  });

  it('takes a lock its holder releases just after the first try, and leaves none behind', async () => {
    const held = join(locks, 'storage-san1-raw');
    mkdirSync(held, { recursive: true });
    // The holder lets go in the instant after lvchain's mkdir of the lock failed: a mkdir on the
    // PATH that, once, removes the lock after failing on it (with the real mkdir's failure).
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const flag = join(root, 'release-once');
    writeFileSync(flag, '');
    writeFileSync(
      join(bin, 'mkdir'),
      `#!/bin/sh\nfor last; do :; done\n/bin/mkdir "$@"; rc=$?\nif [ $rc -ne 0 ] && [ "$last" = "${held}" ] && [ -f "${flag}" ]; then rm -f "${flag}"; rmdir "$last"; fi\nexit $rc\n`,
      { mode: 0o755 },
    );
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path}`;
    try {
      const seen = await lockFor('vg_san1').around('lvcreate of d', async () => readdirSync(locks).sort());
      expect(existsSync(flag), 'the holder let go after the first try').toBe(false);
      expect(seen).toEqual(['storage-san1', 'storage-san1-raw']);
      expect(readdirSync(locks), 'nothing is left behind').toEqual([]);
    } finally {
      process.env['PATH'] = path;
    }
  });
});
