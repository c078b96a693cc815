/**
 * `lvchain import` on a directory storage: the snapshot time it records (an estimate from the
 * image's last modification, or the time lvchain already recorded, never overwritten), and the
 * config it prints to paste, which then plans "No changes".
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { DirLab } from '../helpers/dirlab.js';
import { viewDigest, writePattern } from '../helpers/data.js';

const DISK = 'vm-401-disk-0';
const FROZEN = '2026-01-02T03:04:05Z';

interface SidecarFile {
  layers: Record<string, { snap?: string; created?: string; kind?: string }>;
}

describe('lvchain import on a directory', () => {
  let lab: DirLab;
  beforeEach(async () => {
    lab = await DirLab.create();
  });
  afterEach(async () => lab.dispose());

  const sidecar = async (disk: string) =>
    JSON.parse(await readFile(join(lab.diskDir(disk), `${disk}.lvchain.json`), 'utf8')) as SidecarFile;

  it("dates a snapshot by its image's last write, says it is an estimate, and prints the disk as config", async () => {
    // A chain in Proxmox's layout: the old top renamed to snap-pre-…, a new top on it.
    await mkdir(lab.diskDir(DISK), { recursive: true });
    const snap = lab.snap(DISK, 'pre');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', snap, '16M']);
    await writePattern(snap, 0, 1 << 20, 0x41);
    await execa('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      'snap-pre-vm-401-disk-0.qcow2',
      lab.top(DISK),
    ]);
    await writePattern(lab.top(DISK), 512 << 10, 1 << 20, 0x42);
    await utimes(snap, new Date(FROZEN), new Date(FROZEN));
    const digests = [await viewDigest(snap), await viewDigest(lab.top(DISK))];
    await lab.writeRawConfig({ version: 1, directories: { lab: { path: './store' } } });

    const r = await lab.run(['import', 'lab', DISK, '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(Object.values((await sidecar(DISK)).layers).find((l) => l.snap === 'pre')).toMatchObject({
      created: FROZEN,
      kind: 'external',
    });
    expect(r.stdout).toContain(
      `snapshot pre: taken about ${FROZEN} (estimated from the image's last modification)`,
    );
    expect([await viewDigest(snap), await viewDigest(lab.top(DISK))]).toEqual(digests);

    const [, snippet] = r.stdout.split(`To manage it, add this under disks: in ${lab.configPath}:\n`);
    const pasted = parse(snippet as string) as { disks: Record<string, unknown> };
    expect(pasted).toEqual({ disks: { [DISK]: { storage: 'lab', size: '16MiB', snapshots: { pre: {} } } } });
    await writeFile(
      lab.configPath,
      stringify({ version: 1, directories: { lab: { path: './store' } }, ...pasted }),
    );
    const plan = await lab.run(['plan', '--detailed-exitcode']);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
  });

  it('keeps the created time lvchain recorded when it adopts a chain again', async () => {
    await lab.writeConfig({ [DISK]: { size: '16MiB', snapshots: ['pre'] } });
    await lab.apply('--now', '2026-01-05T10:00:00Z');
    const before = await sidecar(DISK);
    expect(Object.values(before.layers).find((l) => l.snap === 'pre')?.created).toBe('2026-01-05T10:00:00Z');
    // The top loses its metadata (a restore of the file, a hand edit): the chain is half owned.
    const top = `${DISK}.qcow2`;
    const { [top]: dropped, ...rest } = before.layers;
    expect(dropped).toBeDefined();
    await writeFile(
      join(lab.diskDir(DISK), `${DISK}.lvchain.json`),
      JSON.stringify({ ...before, layers: rest }),
    );
    const r = await lab.run(['import', 'lab', DISK, '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(Object.values((await sidecar(DISK)).layers).find((l) => l.snap === 'pre')?.created).toBe(
      '2026-01-05T10:00:00Z',
    );
    expect(r.stdout).toContain('snapshot pre: taken 2026-01-05T10:00:00Z (as lvchain recorded it)');
    expect(r.stdout, 'a declared disk needs no snippet').not.toContain('To manage it');
  });
});
