/**
 * A hostile file system under a directory storage (DESIGN §9
 * "Untrusted inputs"): links planted where lvchain reads or writes (layers, image folders,
 * images/, the lock, its info file, sidecars and their temporary files), FIFOs, devices and
 * folders in place of layers, corrupt sidecars, and a header read that would hang. Runs the real
 * CLI as root, as on a Proxmox node, with a victim file and a sentinel tree outside the storage.
 * Each case must end in bounded time, name the file and the reason, leave the affected disk and
 * everything outside the storage as they were, and still change the disks it does not affect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { viewDigest, writePattern } from '../helpers/data.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';
import { requireTool } from '../helpers/tools.js';
import { TRASH_DIR } from '../../src/storage/dir/layout.js';

/** The disk each case attacks, a disk in the same folder, and one in another folder. */
const D = 'vm-800-disk-0';
const SIB = 'vm-800-disk-1';
const OTHER = 'vm-801-disk-0';
const SIZE = '4MiB';
/** No CLI run may take longer than this: no planted object may hang lvchain. */
const RUN_BOUND_MS = 30_000;
/** The header bound for these runs, so that a hung read shows within the run bound. */
const HEADER_TIMEOUT_S = '3';

let lab: DirLab;
const results: { name: string; refused: boolean; contained: boolean }[] = [];

beforeAll(async () => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('flock', 'util-linux');
  if (process.getuid?.() !== 0)
    throw new Error('these cases plant devices and must run as root, as lvchain does');
  await makeTemplate();
});
afterEach(async () => {
  await lab?.dispose();
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

const outside = () => join(lab.root, 'outside');
const victim = () => join(outside(), 'victim.txt');
const lockPath = () => join(lab.storePath, '.lvchain.lock');
const sidecar = (disk: string) => join(lab.diskDir(disk), `${disk}.lvchain.json`);

/**
 * Everything below `dir` by content, and links and special files by what they are, so a write
 * through any path, a created file or a removed one shows.
 */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      // Removed layers pass through the trash while a detached rm frees them.
      if (e.name === TRASH_DIR) continue;
      const p = join(d, e.name);
      const key = relative(lab.root, p);
      if (e.isSymbolicLink()) out[key] = `link to ${await readlink(p)}`;
      else if (e.isDirectory()) {
        out[key] = 'dir';
        await walk(p);
      } else if (e.isFile())
        out[key] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
      else out[key] = `special mode ${(await lstat(p)).mode}`;
    }
  };
  await walk(dir);
  return out;
}

/** The world outside the storage, and the files of D (which must stay exactly as they were). */
async function guarded(): Promise<Record<string, string>> {
  const own = Object.entries(await tree(lab.storePath)).filter(([p]) => basename(p).includes(D));
  return { ...(await tree(outside())), ...Object.fromEntries(own) };
}

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ exitCode: number; out: string }> {
  const started = Date.now();
  const r = await lab.run(args, { LVCHAIN_HEADER_TIMEOUT: HEADER_TIMEOUT_S, ...env });
  expect(Date.now() - started, `lvchain ${args.join(' ')} took too long`).toBeLessThan(RUN_BOUND_MS);
  const out = r.stdout + r.stderr;
  expect(out).not.toMatch(/internal error|ZodError|at .*\.js:\d+/);
  return { exitCode: r.exitCode, out };
}

/** D with snapshot s1, SIB beside it and OTHER in its own folder, made once and copied per case. */
let template: string;

async function makeTemplate(): Promise<void> {
  const base = await DirLab.create('lvchain-hostile-files-template-');
  await base.writeConfig({
    [D]: { size: SIZE, snapshots: ['s1'] },
    [SIB]: { size: SIZE },
    [OTHER]: { size: SIZE },
  });
  await base.apply();
  await writePattern(base.top(D), 0, 65536, 0x11);
  template = base.root;
}

/** A fresh copy of the template (layers name their backing relatively), and a victim outside. */
async function baseline(): Promise<void> {
  lab = await DirLab.create('lvchain-hostile-files-');
  await cp(template, lab.root, { recursive: true });
  await mkdir(outside(), { recursive: true });
  await writeFile(victim(), 'root must never write here\n');
}

/** Every disk gets a new snapshot s2: a change for each, made only where nothing is hostile. */
async function workForAll(): Promise<void> {
  await lab.writeConfig({
    [D]: { size: SIZE, snapshots: ['s1', 's2'] },
    [SIB]: { size: SIZE, snapshots: ['s2'] },
    [OTHER]: { size: SIZE, snapshots: ['s2'] },
  });
}

/** Move a file out of the storage and leave a link to it in its place. */
async function linkOut(path: string, name: string): Promise<void> {
  const target = join(outside(), name);
  await rename(path, target);
  await symlink(target, path);
}

/** A planted link where lvchain left a file of its own (the lock files of earlier runs). */
async function replaceBySymlink(path: string, target: string): Promise<void> {
  await rm(path, { force: true });
  await symlink(target, path);
}

interface Case {
  name: string;
  plant: () => Promise<void>;
  /** D is left alone as drift, and plan and apply say why, naming the file. */
  drift?: () => RegExp;
  /** The whole storage is refused: apply fails with this message and changes no disk. */
  refusesApply?: () => RegExp;
  /** Disks the case leaves alone besides D. */
  blocked?: string[];
  /** The case does not concern D: D too must be changed as usual. */
  harmless?: boolean;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const cases: Case[] = [
  {
    name: 'symlink: the top layer, to a qcow2 outside',
    plant: () => linkOut(lab.top(D), 'top.qcow2'),
    drift: () => new RegExp(`${esc(lab.top(D))} is a symbolic link`),
  },
  {
    name: 'symlink: a snapshot layer, to a qcow2 outside',
    plant: () => linkOut(lab.snap(D, 's1'), 's1.qcow2'),
    drift: () => new RegExp(`${esc(lab.snap(D, 's1'))} is a symbolic link`),
  },
  {
    name: 'symlink: a layer, dangling',
    plant: async () => {
      await rename(lab.top(D), join(outside(), 'moved.qcow2'));
      await symlink(join(outside(), 'does-not-exist.qcow2'), lab.top(D));
    },
    drift: () => new RegExp(`${esc(lab.top(D))} is a symbolic link`),
  },
  {
    name: 'symlink: the image folder images/800, to a folder outside',
    plant: () => linkOut(lab.diskDir(D), '800'),
    drift: () => new RegExp(`${esc(lab.diskDir(D))} is a symbolic link`),
    blocked: [SIB],
  },
  {
    name: 'symlink: images/ itself',
    plant: () => linkOut(join(lab.storePath, 'images'), 'images'),
    blocked: [SIB, OTHER],
    refusesApply: () => new RegExp(`${esc(join(lab.storePath, 'images'))} is a symbolic link`),
  },
  {
    name: 'symlink: the lock file, to the victim',
    plant: () => replaceBySymlink(lockPath(), victim()),
    blocked: [SIB, OTHER],
    refusesApply: () => new RegExp(`${esc(lockPath())} is a symbolic link`),
  },
  {
    name: 'symlink: the lock file, dangling (its target must not be created)',
    plant: () => replaceBySymlink(lockPath(), join(outside(), 'created-by-lock')),
    blocked: [SIB, OTHER],
    refusesApply: () => new RegExp(`${esc(lockPath())} is a symbolic link`),
  },
  {
    name: 'symlink: the lock info file, to the victim',
    plant: () => replaceBySymlink(`${lockPath()}.info`, victim()),
    blocked: [SIB, OTHER],
    refusesApply: () => new RegExp(`${esc(lockPath())}.info is a symbolic link`),
  },
  {
    name: 'symlink: the lock info temporary file under its old fixed name, to the victim',
    plant: () => symlink(victim(), `${lockPath()}.info.tmp`),
    harmless: true,
  },
  {
    name: 'symlink: the sidecar, to a copy outside',
    plant: () => linkOut(sidecar(D), 'sidecar.json'),
    drift: () => new RegExp(`the sidecar ${esc(sidecar(D))} is a symbolic link`),
  },
  {
    name: 'symlink: sidecar temporary files under every guessable pid name, to the victim',
    plant: async () => {
      // The old name was <sidecar>.tmp-<pid>: cover the pids the next runs will get.
      const last = Number((await readFile('/proc/sys/kernel/ns_last_pid', 'utf8')).trim());
      for (const disk of [D, SIB])
        for (let pid = last + 1; pid < last + 3000; pid++)
          await symlink(victim(), `${sidecar(disk)}.tmp-${pid}`);
    },
    harmless: true,
  },
  {
    name: 'FIFO: in place of the top layer',
    plant: async () => {
      await rename(lab.top(D), join(outside(), 'moved.qcow2'));
      await execa('mkfifo', [lab.top(D)]);
    },
    drift: () => new RegExp(`${esc(lab.top(D))} is a FIFO, not a regular file`),
  },
  {
    name: 'FIFO: in place of a snapshot layer that the top names as its backing',
    plant: async () => {
      await rename(lab.snap(D, 's1'), join(outside(), 'moved.qcow2'));
      await execa('mkfifo', [lab.snap(D, 's1')]);
    },
    drift: () => new RegExp(`${esc(lab.snap(D, 's1'))} is a FIFO, not a regular file`),
  },
  {
    name: 'character device (mknod, the null device) in place of a snapshot layer',
    plant: async () => {
      await rename(lab.snap(D, 's1'), join(outside(), 'moved.qcow2'));
      await execa('mknod', [lab.snap(D, 's1'), 'c', '1', '3']);
    },
    drift: () => new RegExp(`${esc(lab.snap(D, 's1'))} is a character device, not a regular file`),
  },
  {
    name: 'block device (mknod, a loop device) in place of the top layer',
    plant: async () => {
      await rename(lab.top(D), join(outside(), 'moved.qcow2'));
      await execa('mknod', [lab.top(D), 'b', '7', '200']);
    },
    drift: () => new RegExp(`${esc(lab.top(D))} is a block device, not a regular file`),
  },
  {
    name: 'a folder named like the top layer',
    plant: async () => {
      await rename(lab.top(D), join(outside(), 'moved.qcow2'));
      await mkdir(lab.top(D));
    },
    drift: () => new RegExp(`${esc(lab.top(D))} is a directory, not a regular file`),
  },
  {
    name: 'FIFO: in place of the sidecar',
    plant: async () => {
      await rename(sidecar(D), join(outside(), 'moved.json'));
      await execa('mkfifo', [sidecar(D)]);
    },
    drift: () => new RegExp(`the sidecar ${esc(sidecar(D))} is not a regular file`),
  },
  {
    name: 'corrupt sidecar: not JSON',
    plant: () => writeFile(sidecar(D), '{"format": 1, "disk": '),
    drift: () => new RegExp(`the sidecar ${esc(sidecar(D))} is not valid JSON \\(.+\\)`),
  },
  {
    name: 'corrupt sidecar: JSON, not lvchain schema',
    plant: () => writeFile(sidecar(D), JSON.stringify({ format: 1, disk: D, layers: { x: { snap: 7 } } })),
    drift: () =>
      new RegExp(`the sidecar ${esc(sidecar(D))} is not an lvchain sidecar: layers\\.x\\.[a-z_]+: .+`),
  },
  {
    name: 'hung header read: the top backed by a FIFO outside the storage (header timeout)',
    plant: async () => {
      await execa('mkfifo', [join(outside(), 'hang')]);
      await execa('qemu-img', [
        'rebase',
        '-u',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        join(outside(), 'hang'),
        lab.top(D),
      ]);
    },
    drift: () => new RegExp(`${esc(basename(lab.top(D)))}.*${esc(join(outside(), 'hang'))}`),
  },
];

describe('a hostile file system under a directory storage', () => {
  afterAll(() => {
    if (results.length !== cases.length) return;
    const refused = results.filter((r) => r.refused).length;
    const contained = results.filter((r) => r.contained).length;
    writeSection(
      'hostile-storage-files',
      [
        '## Hostile files on a directory storage',
        '',
        generatedBy('test/integration/hostile-storage-files.test.ts'),
        '',
        'Links planted where lvchain reads or writes (layers, image folders, `images/`, the lock, its',
        'info file, sidecars and their temporary files), FIFOs, devices and folders as layers, corrupt',
        'sidecars and a header read that hangs, run through plan, apply, check and reconcile as root.',
        'Refused: the disk is shown as drift naming the file, or the run is refused naming it (or, for',
        'planted temporary names, not used). Contained: no file outside the storage and none of the',
        "disk's files changed, every run ended within its bound, and the unaffected disks were changed.",
        '',
        '| tried | refused | contained |',
        '| ---: | ---: | ---: |',
        `| ${results.length} | ${refused} | ${contained} |`,
        '',
        ...results.map(
          (r) =>
            `- ${r.name}: ${r.refused ? 'refused' : 'NOT refused'}, ${r.contained ? 'contained' : 'NOT contained'}`,
        ),
      ].join('\n'),
    );
  });

  for (const c of cases) {
    it(c.name, async () => {
      await baseline();
      await workForAll();
      const dataBefore = await viewDigest(lab.top(D));
      await c.plant();
      const planted = await guarded();

      const plan = await run(['plan']);
      const apply = await run(['apply', '--auto-approve']);
      let refused = false;
      if (c.drift) {
        expect(plan.exitCode, plan.out).toBe(0);
        expect(plan.out).toContain(`disk.${D} is left alone`);
        expect(plan.out).toMatch(c.drift());
        expect(apply.exitCode, apply.out).toBe(0);
        expect(apply.out).toMatch(c.drift());
        refused = true;
      }
      if (c.refusesApply) {
        expect(apply.exitCode, apply.out).toBe(1);
        expect(apply.out).toMatch(c.refusesApply());
        refused = true;
      }
      if (c.harmless) {
        expect(apply.exitCode, apply.out).toBe(0);
        refused = true;
      }
      const check = await run(['check']);
      expect(check.exitCode, check.out).not.toBe(3);
      const reconcile = await run(['reconcile']);
      expect(reconcile.out).not.toMatch(/lock is held/);

      // The disks the case does not concern were changed as usual.
      for (const disk of [SIB, OTHER, ...(c.harmless ? [D] : [])]) {
        const alone = (c.blocked ?? []).includes(disk);
        expect(existsSync(lab.snap(disk, 's2')), `${disk} ${alone ? 'left alone' : 'changed'}`).toBe(!alone);
      }
      // Nothing outside the storage changed, and D's files only if the case does not concern it.
      if (c.harmless) {
        expect(await tree(outside())).toEqual(onlyOutside(planted));
        expect(await viewDigest(lab.top(D))).toBe(dataBefore);
      } else expect(await guarded()).toEqual(planted);
      expect(await readFile(victim(), 'utf8')).toBe('root must never write here\n');
      expect(existsSync(join(outside(), 'created-by-lock'))).toBe(false);
      results.push({ name: c.name, refused, contained: true });
    });
  }
});

function onlyOutside(all: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(all).filter(([p]) => p.startsWith('outside')));
}

describe('a host without flock', () => {
  it('names the missing tool and its package instead of blaming a lock holder', async () => {
    await baseline();
    await workForAll();
    // The real tools of this machine, less flock: a host with util-linux's flock missing.
    const bin = join(lab.root, 'bin-without-flock');
    await mkdir(bin);
    for (const dir of ['/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])
      for (const name of await readdir(dir).catch(() => []))
        if (name !== 'flock' && !existsSync(join(bin, name))) await symlink(join(dir, name), join(bin, name));
    await symlink(process.execPath, join(bin, 'node')).catch(() => undefined);
    const planted = await guarded();
    const env = { PATH: bin };
    const apply = await run(['apply', '--auto-approve'], env);
    expect(apply.exitCode, apply.out).toBe(1);
    expect(apply.out).toContain('flock is not installed there (Debian package util-linux)');
    expect(apply.out).not.toMatch(/lock is held/);
    const plan = await run(['plan'], env);
    expect(plan.out).not.toMatch(/changing lab right now|lock is held/);
    expect(await guarded()).toEqual(planted);
    for (const disk of [D, SIB, OTHER]) expect(existsSync(lab.snap(disk, 's2'))).toBe(false);
  });
});
