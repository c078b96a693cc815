/**
 * Offline only (DESIGN §6): apply refuses to change the image of a disk that a process holds open
 * as a running VM does, before touching anything, and checks no more than it must: the layers the
 * change rewrites, renames or removes, and the top, which is what a VM holds for writing.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, holdOpen, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { hookedGuest } from '../helpers/configs.js';

const DISK = 'vm-700-disk-0';
const SIZE = 4 * 1024 * 1024;
let lab: DirLab;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await lab.dispose();
});

/** Every image file with its size and mtime (the lock file changes with each run). */
async function images(): Promise<string[]> {
  return (await lab.snapshotTree()).filter((l) => l.startsWith(join(lab.storePath, 'images')));
}

/** A disk with snapshots a, b, c, each holding its own data. */
async function chain(): Promise<Map<string, string>> {
  lab = await DirLab.create('lvchain-inuse-');
  const expected = new ExpectedDisk(SIZE);
  const views = new Map<string, string>();
  const snaps: string[] = [];
  for (const [i, s] of ['a', 'b', 'c'].entries()) {
    if (i === 0) {
      await lab.writeConfig({ [DISK]: { size: '4MiB' } });
      await lab.apply();
    }
    await writePattern(lab.top(DISK), i * 65536, 65536, 0x11 * (i + 1));
    expected.write(i * 65536, 65536, 0x11 * (i + 1));
    snaps.push(s);
    await lab.writeConfig({ [DISK]: { size: '4MiB', snapshots: snaps } });
    await lab.apply();
    views.set(s, expected.digest());
  }
  await writePattern(lab.top(DISK), 3 * 65536, 65536, 0x44);
  expected.write(3 * 65536, 65536, 0x44);
  views.set('top', expected.digest());
  return views;
}

describe('a disk held open like a running VM', () => {
  it('refuses to merge a middle snapshot away, though the layers it rewrites are only shared for reading', async () => {
    const views = await chain();
    // b sits between a and c: deleting it touches b and c, which the VM holds for reading only.
    await lab.writeConfig({ [DISK]: { size: '4MiB', snapshots: ['a', 'c'] } });
    const before = await images();
    const vm = await holdOpen(lab.top(DISK));
    try {
      const r = await lab.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toContain(
        `Error: ${DISK}.qcow2 is in use by another process (a running VM?); lvchain changes disks offline only. Nothing was done.`,
      );
      expect(r.stderr).toContain(`on snapshot.${DISK}@b`);
      // The event names the address once, before the message.
      const json = await lab.run(['apply', '--auto-approve', '--json']);
      const errored = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; '@message': string })
        .find((e) => e.type === 'apply_errored');
      expect(errored?.['@message']).toBe(
        `snapshot.${DISK}@b: ${DISK}.qcow2 is in use by another process (a running VM?); lvchain changes disks offline only. Nothing was done.`,
      );
    } finally {
      await vm.release();
    }
    expect(await images()).toEqual(before);
    await lab.apply();
    expect(await viewDigest(lab.snap(DISK, 'a'))).toBe(views.get('a'));
    expect(await viewDigest(lab.snap(DISK, 'c'))).toBe(views.get('c'));
    expect(await viewDigest(lab.top(DISK))).toBe(views.get('top'));
  });

  /** The `qemu-img info` argvs of a command log. */
  async function infosIn(log: string): Promise<string[][]> {
    return (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv)
      .filter((argv) => argv[0] === 'qemu-img' && argv[1] === 'info');
  }

  it('looks with qemu-img, once for the whole chain, when /proc/locks shows another lock on it', async () => {
    const views = await chain();
    await lab.writeConfig({ [DISK]: { size: '4MiB', snapshots: ['a', 'c'] } });
    // A BSD lock (a backup tool's, say) does not stop QEMU, but it is a lock /proc/locks lists
    // on the file: apply cannot tell from there, and asks qemu-img.
    const other = execa('flock', ['-s', lab.top(DISK), 'sleep', '600'], {
      detached: true,
      stdio: 'ignore',
      reject: false,
    });
    try {
      const log = join(lab.root, 'commands.ndjson');
      const r = await lab.run(['--command-log', log, 'apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      // The plan's read, then one look that takes the image locks (no -U) for the chain, where
      // one per layer the merge touches (b, c) and the top were three; that look is also the
      // apply's fresh read of the headers.
      expect(await infosIn(log)).toEqual([
        ['qemu-img', 'info', '--backing-chain', '-U', '--output=json', '-f', 'qcow2', lab.top(DISK)],
        ['qemu-img', 'info', '--backing-chain', '--output=json', '-f', 'qcow2', lab.top(DISK)],
      ]);
    } finally {
      // flock and its sleep, as a group.
      if (other.pid !== undefined) process.kill(-other.pid, 'SIGTERM');
      await other;
    }
    expect(await viewDigest(lab.snap(DISK, 'a'))).toBe(views.get('a'));
    expect(await viewDigest(lab.snap(DISK, 'c'))).toBe(views.get('c'));
    expect(await viewDigest(lab.top(DISK))).toBe(views.get('top'));
  });

  it('looks in /proc/locks, not with qemu-img, when the files are as its own plan just read them', async () => {
    const views = await chain();
    await lab.writeConfig({ [DISK]: { size: '4MiB', snapshots: ['a', 'c'] } });
    const log = join(lab.root, 'commands.ndjson');
    const r = await lab.run(['--command-log', log, 'apply', '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(await infosIn(log)).toEqual([
      ['qemu-img', 'info', '--backing-chain', '-U', '--output=json', '-f', 'qcow2', lab.top(DISK)],
    ]);
    expect(await viewDigest(lab.snap(DISK, 'a'))).toBe(views.get('a'));
    expect(await viewDigest(lab.snap(DISK, 'c'))).toBe(views.get('c'));
    expect(await viewDigest(lab.top(DISK))).toBe(views.get('top'));
  });

  it('sees a VM that opened the disk after the plan read it, before anything changes', async () => {
    lab = await DirLab.create('lvchain-inuse-late-');
    await lab.writeRawConfig({
      version: 1,
      directories: { lab: { path: './store' } },
      ...hookedGuest({
        storage: 'lab',
        disks: [DISK],
        size: '4MiB',
        pre: 'true',
        post: 'true',
        timeout: '30s',
      }),
    });
    await lab.apply('--now', '2026-06-01T00:00:00Z');
    await writePattern(lab.top(DISK), 0, 65536, 0x5a);
    const top = await viewDigest(lab.top(DISK));
    // The pre-snapshot hook runs after the plan and before apply looks at the disk: there it
    // starts a qemu-io that holds the top, as a VM started in that moment would.
    const pid = join(lab.root, 'holder.pid');
    const pre = join(lab.root, 'start-vm.sh');
    const out = join(lab.root, 'holder.out');
    await writeFile(
      pre,
      [
        '#!/bin/sh',
        // It reads a sector once the image is open (and locked), then sleeps holding it. The
        // wait below watches for that read, not with qemu-img: a locking qemu-img at the moment
        // qemu-io opens the image would make qemu-io fail for the lock.
        `stdbuf -oL qemu-io -f qcow2 -c 'read 0 512' -c 'sleep 600000' ${lab.top(DISK)} </dev/null >${out} 2>&1 &`,
        'holder=$!',
        `echo $holder > ${pid}`,
        `until grep -q '^read 512/512' ${out}; do`,
        `  kill -0 $holder 2>/dev/null || { cat ${out} >&2; exit 3; }`,
        '  sleep 0.1',
        'done',
        '',
      ].join('\n'),
    );
    await chmod(pre, 0o755);
    await lab.writeRawConfig({
      version: 1,
      directories: { lab: { path: './store' } },
      ...hookedGuest({ storage: 'lab', disks: [DISK], size: '4MiB', pre, post: 'true', timeout: '4m' }),
    });
    const before = await images();
    try {
      const r = await lab.run(['apply', '--auto-approve', '--now', '2026-06-01T01:00:00Z']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toContain(`${DISK}.qcow2 is in use by another process`);
    } finally {
      const holder = Number((await readFile(pid, 'utf8').catch(() => '')).trim());
      try {
        if (holder > 0) process.kill(holder);
      } catch {
        // Already gone: what went wrong is in the assertions above.
      }
    }
    expect(await images()).toEqual(before);
    expect(await viewDigest(lab.top(DISK))).toBe(top);
  });

  it('still changes metadata alone: protect is set while the VM runs', async () => {
    const views = await chain();
    await lab.writeConfig({ [DISK]: { size: '4MiB', snapshots: ['a', 'b', 'c'], protect: true } });
    const vm = await holdOpen(lab.top(DISK));
    try {
      const r = await lab.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    } finally {
      await vm.release();
    }
    const sidecar = JSON.parse(await readFile(join(lab.diskDir(DISK), `${DISK}.lvchain.json`), 'utf8')) as {
      layers: Record<string, { protect?: boolean }>;
    };
    expect(sidecar.layers[`${DISK}.qcow2`]?.protect).toBe(true);
    expect(await viewDigest(lab.top(DISK))).toBe(views.get('top'));
  });
});
