/**
 * Hostile images on a directory storage (DESIGN §9 "Untrusted inputs"): layers with
 * an external data file or header features lvchain does not manage, linked clones that use a
 * snapshot layer as their backing, and backing loops. Each case plants the image with real
 * qemu-img into a disk lvchain made, then makes a merge due. The plan must name the file and the
 * reason; apply must leave the disk, its dependants and everything outside the storage exactly
 * as they were, while the other disk of the storage is still changed as usual.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { DirLab, type DiskSpec } from '../helpers/dirlab.js';
import { viewDigest, writePattern } from '../helpers/data.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';
import { requireTool } from '../helpers/tools.js';
import { withPlanInFlight } from '../helpers/in-flight.js';

const D = 'vm-900-disk-0';
const OTHER = 'vm-902-disk-0';
const SIZE = '4MiB';
/** The same size as qemu-img spells it. */
const QSIZE = '4M';
const OPTS = 'extended_l2=on,cluster_size=128k';
/** No CLI run may take longer than this: a loop or an odd image must not hang lvchain. */
const RUN_BOUND_MS = 30_000;

let lab: DirLab;
const results: { name: string; refused: boolean; contained: boolean }[] = [];

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await lab?.dispose();
});

const qemuImg = (...args: string[]) => execa('qemu-img', args);

/**
 * QEMU times its LUKS key derivation in CPU time before it creates the image, and gives up with
 * "Unable to get accurate CPU usage" when a round measures 0 ms (coarse accounting on a busy
 * machine; seen once in CI). That is the tool's benchmark failing, not the image: try again.
 */
async function luksCreate(...args: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await execa('qemu-img', args, { reject: false });
    if (r.exitCode === 0) return;
    if (attempt >= 5 || !String(r.stderr).includes('Unable to get accurate CPU usage'))
      throw new Error(`qemu-img ${args.join(' ')} failed (${r.exitCode}): ${String(r.stderr)}`);
  }
}

function outside(): string {
  return join(lab.root, 'outside');
}

/** Content hash of every file below `dir`, so a write through any path shows. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile())
        out[relative(lab.root, p)] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

/** The storage's images and the world outside it; the other disk is expected to change. */
async function guarded(): Promise<Record<string, string>> {
  const all = { ...(await contents(join(lab.storePath, 'images'))), ...(await contents(outside())) };
  return Object.fromEntries(Object.entries(all).filter(([p]) => !p.includes('/902/')));
}

async function run(args: string[]): Promise<{ exitCode: number; out: string }> {
  const started = Date.now();
  const r = await lab.run(args);
  expect(Date.now() - started, `lvchain ${args.join(' ')} took too long`).toBeLessThan(RUN_BOUND_MS);
  const out = r.stdout + r.stderr;
  expect(out).not.toMatch(/internal error|at .*\.js:\d+/);
  return { exitCode: r.exitCode, out };
}

/**
 * D with pinned snapshots s1 and s2, each layer holding its own data, and OTHER beside it; a
 * sentinel directory outside the storage.
 */
async function baseline(): Promise<void> {
  lab = await DirLab.create('lvchain-hostile-img-');
  await mkdir(outside(), { recursive: true });
  await writeFile(join(outside(), 'sentinel.txt'), 'nothing here may change\n');
  await lab.writeConfig({ [D]: { size: SIZE }, [OTHER]: { size: SIZE } });
  await lab.apply();
  await writePattern(lab.top(D), 0, 65536, 0x11);
  await lab.writeConfig({ [D]: { size: SIZE, snapshots: ['s1'] }, [OTHER]: { size: SIZE } });
  await lab.apply();
  await writePattern(lab.top(D), 65536, 65536, 0x22);
  await lab.writeConfig({ [D]: { size: SIZE, snapshots: ['s1', 's2'] }, [OTHER]: { size: SIZE } });
  await lab.apply();
  await writePattern(lab.top(D), 131072, 65536, 0x33);
}

/** Drop s1 from D (a merge is due) and give OTHER a new snapshot (it must still be taken). */
async function mergeDue(d: DiskSpec | undefined = { size: SIZE, snapshots: ['s2'] }): Promise<void> {
  await lab.writeConfig({
    ...(d ? { [D]: d } : {}),
    [OTHER]: { size: SIZE, snapshots: ['x'] },
  });
}

/**
 * Replace a layer of D by a fresh image made with these qemu-img create arguments, run where
 * lvchain runs (the lab root): qemu opens a relative data file name from the working directory.
 */
async function replaceLayer(path: string, args: string[]): Promise<void> {
  await rm(path);
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...args, path, QSIZE], { cwd: lab.root });
}

interface Case {
  name: string;
  /** Changes the storage; returns images whose view must stay the same (the dependants). */
  plant: () => Promise<string[]>;
  /** What the plan must say, naming the file. */
  reason: () => string[];
  /** More options for plan and apply. */
  args?: string[];
  /** Undeclare D and pass --allow-destroy instead of dropping s1. */
  destroy?: boolean;
  /** The case makes OTHER drift too, so OTHER is not expected to change. */
  otherBlocked?: boolean;
}

const s1 = () => lab.snap(D, 's1');
const s2 = () => lab.snap(D, 's2');
const cloneDir = () => join(lab.storePath, 'images', '901');
const clone = () => join(cloneDir(), 'vm-901-disk-0.qcow2');

/** A linked clone made as Proxmox makes one: its own folder, a backing relative to it. */
async function linkedClone(path: string, backing: string): Promise<string[]> {
  await mkdir(join(path, '..'), { recursive: true });
  await qemuImg('create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, path, QSIZE);
  await writePattern(path, 196608, 65536, 0x77);
  return [path];
}

const cases: Case[] = [
  {
    name: 'data_file: raw external data file outside the storage (absolute path)',
    plant: async () => {
      await execa('truncate', ['-s', QSIZE, join(outside(), 'victim.raw')]);
      await replaceLayer(s1(), ['-o', `data_file=${join(outside(), 'victim.raw')},data_file_raw=on`]);
      await writePattern(s1(), 0, 65536, 0x11);
      return [];
    },
    reason: () => [
      `snap-s1-${D}.qcow2 keeps its data in the external data file "${join(outside(), 'victim.raw')}"`,
    ],
  },
  {
    name: 'data_file: a relative data file name, which qemu opens from the working directory',
    plant: async () => {
      await execa('truncate', ['-s', QSIZE, join(outside(), 'victim2.raw')]);
      await replaceLayer(s1(), ['-o', 'data_file=outside/victim2.raw']);
      await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 65536', s1()], { cwd: lab.root });
      return [];
    },
    reason: () => [`snap-s1-${D}.qcow2 keeps its data in the external data file "outside/victim2.raw"`],
  },
  {
    name: 'data_file: on the top layer, over a normal backing',
    plant: async () => {
      await execa('truncate', ['-s', QSIZE, join(outside(), 'victim3.raw')]);
      await replaceLayer(lab.top(D), [
        '-F',
        'qcow2',
        '-b',
        `snap-s2-${D}.qcow2`,
        '-o',
        `data_file=${join(outside(), 'victim3.raw')}`,
      ]);
      return [];
    },
    reason: () => [`${D}.qcow2 keeps its data in the external data file "${join(outside(), 'victim3.raw')}"`],
  },
  {
    name: 'feature: lazy refcounts',
    plant: async () => {
      await replaceLayer(s1(), ['-o', `${OPTS},lazy_refcounts=on`]);
      return [];
    },
    reason: () => [`snap-s1-${D}.qcow2 uses qcow2 features lvchain does not manage: lazy_refcounts`],
  },
  {
    name: 'feature: a persistent dirty bitmap (incremental backups)',
    plant: async () => {
      await qemuImg('bitmap', '--add', s2(), 'backup-0');
      return [];
    },
    reason: () => [
      `snap-s2-${D}.qcow2 uses qcow2 features lvchain does not manage: persistent bitmaps (backup-0)`,
    ],
  },
  {
    name: 'feature: qcow2 version 2 (compat 0.10)',
    plant: async () => {
      await replaceLayer(s1(), ['-o', 'compat=0.10']);
      return [];
    },
    reason: () => [`snap-s1-${D}.qcow2 uses qcow2 features lvchain does not manage: compat 0.10`],
  },
  {
    name: 'feature: 1-bit refcounts and zstd compression',
    plant: async () => {
      await replaceLayer(s1(), ['-o', `${OPTS},refcount_bits=1,compression_type=zstd`]);
      return [];
    },
    reason: () => [
      `snap-s1-${D}.qcow2 uses qcow2 features lvchain does not manage: refcount_bits 1, compression_type zstd`,
    ],
  },
  {
    name: 'feature: LUKS encryption',
    plant: async () => {
      await rm(s1());
      await luksCreate(
        'create',
        '-q',
        '-f',
        'qcow2',
        '--object',
        'secret,id=sec0,data=lvchain',
        '-o',
        'encrypt.format=luks,encrypt.key-secret=sec0',
        s1(),
        QSIZE,
      );
      return [];
    },
    reason: () => [`snap-s1-${D}.qcow2 uses qcow2 features lvchain does not manage: encryption`],
  },
  {
    name: 'linked clone in another VM folder, relative backing to the merged snapshot',
    plant: () => linkedClone(clone(), `../900/snap-s1-${D}.qcow2`),
    reason: () => [`snap-s1-${D}.qcow2 is the backing file of ${clone()}, which lvchain does not manage`],
  },
  {
    name: 'linked clone in another VM folder, absolute backing to the child a commit merges into its parent',
    plant: () => linkedClone(clone(), s2()),
    args: ['--merge-direction', 'commit'],
    reason: () => [`snap-s2-${D}.qcow2 is the backing file of ${clone()}, which lvchain does not manage`],
  },
  {
    name: 'foreign image in the disk folder itself, backed by the merged snapshot',
    plant: () => linkedClone(join(lab.diskDir(D), 'scratch.qcow2'), `snap-s1-${D}.qcow2`),
    reason: () => [
      `snap-s1-${D}.qcow2 is the backing file of ${join(lab.diskDir(D), 'scratch.qcow2')}, which lvchain does not manage`,
    ],
  },
  {
    name: 'another lvchain disk whose top was rebased onto the merged snapshot',
    plant: async () => {
      await qemuImg(
        'rebase',
        '-u',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        `../900/snap-s1-${D}.qcow2`,
        lab.top(OTHER),
      );
      return [lab.top(OTHER)];
    },
    reason: () => [
      `snap-s1-${D}.qcow2 is the backing file of ${lab.top(OTHER)}, which lvchain does not manage`,
      `${OTHER}.qcow2 has backing file "../900/snap-s1-${D}.qcow2"`,
    ],
    otherBlocked: true,
  },
  {
    name: 'destroy (--allow-destroy) of a disk whose snapshot backs a linked clone',
    plant: () => linkedClone(clone(), `../900/snap-s1-${D}.qcow2`),
    reason: () => [`snap-s1-${D}.qcow2 is the backing file of ${clone()}, which lvchain does not manage`],
    destroy: true,
  },
  {
    name: 'backing loop between two snapshots',
    plant: async () => {
      await qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', `snap-s2-${D}.qcow2`, s1());
      return [];
    },
    reason: () => ['broken_backing: the chain loops at snapshot'],
  },
  {
    name: 'backing loop: the top backed by itself',
    plant: async () => {
      await qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', `${D}.qcow2`, lab.top(D));
      return [];
    },
    reason: () => ['broken_backing: the chain loops at top'],
  },
  {
    name: 'chain reaching outside the storage',
    plant: async () => {
      const base = join(outside(), 'base.qcow2');
      await qemuImg('create', '-q', '-f', 'qcow2', '-o', OPTS, base, QSIZE);
      await writePattern(base, 0, 65536, 0x55);
      await qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', base, s1());
      return [];
    },
    reason: () => [`snap-s1-${D}.qcow2 has backing file "${join(outside(), 'base.qcow2')}"`],
  },
];

describe('hostile images on a directory storage', () => {
  for (const c of cases) {
    it(c.name, async () => {
      await baseline();
      const dependants = await c.plant();
      const before = await guarded();
      const views = new Map<string, string>();
      for (const p of dependants) views.set(p, await viewDigest(p));
      if (c.destroy) await mergeDue(undefined);
      else await mergeDue();
      const extra = [...(c.destroy ? ['--allow-destroy'] : []), ...(c.args ?? [])];

      const plan = await run(['plan', ...extra]);
      for (const r of c.reason()) expect(plan.out).toContain(r);
      const refused = c.reason().every((r) => plan.out.includes(r));

      await run(['apply', '--auto-approve', ...extra]);
      const after = await guarded();
      expect(after).toEqual(before);
      for (const [p, v] of views) expect(await viewDigest(p), `${p} reads what it read`).toBe(v);
      if (!c.otherBlocked)
        expect(existsSync(lab.snap(OTHER, 'x')), 'the other disk was still changed').toBe(true);
      results.push({ name: c.name, refused, contained: JSON.stringify(after) === JSON.stringify(before) });
    });
  }

  it('a linked clone made after the plan was saved stops that saved plan at apply', async () => {
    await baseline();
    await mergeDue();
    const saved = join(lab.root, 'plan.json');
    const plan = await run(['plan', '--out', saved]);
    expect(plan.out).toContain(`snapshot.${D}@s1 will be merged away`);
    await linkedClone(clone(), `../900/snap-s1-${D}.qcow2`);
    const before = await guarded();
    const view = await viewDigest(clone());
    const r = await run(['apply', '--auto-approve', saved]);
    expect(r.exitCode).toBe(1);
    // Refused by the re-plan of the saved plan, or by apply's own check of the disk.
    expect(r.out).toMatch(
      new RegExp(
        `change snapshot\\.${D}@s1 is not one the current config and storage plan|snap-s1-${D}\\.qcow2 is the backing file of ${clone()}`,
      ),
    );
    expect(await guarded()).toEqual(before);
    expect(await viewDigest(clone())).toBe(view);
    results.push({ name: 'linked clone made between plan and apply', refused: true, contained: true });
  });

  /** A merge planned in this process, `plant` run before it is applied: the merge must stop. */
  async function stoppedAfterPlanning(plant: () => Promise<unknown>): Promise<void> {
    await withPlanInFlight(lab.configPath, async ({ plan, apply }) => {
      expect(plan.resource_changes.map((c) => c.address)).toContain(`snapshot.${D}@s1`);
      await plant();
      const before = await guarded();
      const view = await viewDigest(clone());
      const outcome = await apply();
      expect(outcome.failed).toEqual([
        {
          address: `snapshot.${D}@s1`,
          message: expect.stringContaining(`snap-s1-${D}.qcow2 is the backing file of ${clone()}`) as unknown,
        },
      ]);
      expect(await guarded()).toEqual(before);
      expect(await viewDigest(clone())).toBe(view);
      expect(existsSync(lab.snap(OTHER, 'x')), 'the other disk was still changed').toBe(true);
    });
  }

  it('apply checks again after it re-observes the disk: a clone made after planning stops the merge', async () => {
    await baseline();
    await mergeDue();
    await stoppedAfterPlanning(() => linkedClone(clone(), `../900/snap-s1-${D}.qcow2`));
    results.push({
      name: 'linked clone made between plan and the change (in-process apply)',
      refused: true,
      contained: true,
    });
  });

  it('an image of another VM rebased onto the snapshot after planning is read again, and stops the merge', async () => {
    await baseline();
    await mkdir(cloneDir(), { recursive: true });
    await qemuImg('create', '-q', '-f', 'qcow2', clone(), QSIZE);
    await mergeDue();
    // The plan read this image with no backing; a run must not trust that read once the file changed.
    await stoppedAfterPlanning(() =>
      qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', `../900/snap-s1-${D}.qcow2`, clone()),
    );
  });

  it('once the clone is gone, the merge goes ahead and every view keeps its data', async () => {
    await baseline();
    await linkedClone(clone(), `../900/snap-s1-${D}.qcow2`);
    const s2View = await viewDigest(s2());
    const topView = await viewDigest(lab.top(D));
    await mergeDue();
    expect((await run(['plan'])).out).toContain('is the backing file of');
    await rm(cloneDir(), { recursive: true });
    await lab.apply();
    expect(existsSync(s1())).toBe(false);
    expect(await viewDigest(s2())).toBe(s2View);
    expect(await viewDigest(lab.top(D))).toBe(topView);
  });
});

afterAll(() => {
  // Only a complete run rewrites the section.
  if (results.length !== cases.length + 2) return;
  const refused = results.filter((r) => r.refused).length;
  const contained = results.filter((r) => r.contained).length;
  writeSection(
    'hostile-storage-images',
    [
      '## Hostile images: directory backend',
      '',
      generatedBy('test/integration/hostile-storage-images.test.ts'),
      '',
      `**${results.length} hostile images tried**: ${refused} refused with the file and the reason named, ${contained} contained (the disk's files, its dependants' views and a sentinel directory outside the storage unchanged after \`apply\`).`,
      '',
      '- Each case plants an image with real qemu-img into a chain lvchain made, then makes a merge due (a pinned snapshot removed, or the disk undeclared with `--allow-destroy`); the other disk of the storage must still get its new snapshot.',
      '- Every CLI run must finish within 30 s and print no internal error.',
      '',
      ...results.map(
        (r) =>
          `- ${r.name}: ${r.refused ? 'refused' : 'NOT refused'}, ${r.contained ? 'contained' : 'NOT contained'}`,
      ),
    ].join('\n'),
  );
});
