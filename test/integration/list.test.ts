/**
 * `lvchain list` against a real directory storage: each row's figures are checked against the
 * files themselves (their count and allocated blocks), and its health against `check`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { writePattern } from '../helpers/data.js';

let lab: DirLab;
afterEach(async () => lab.dispose());

interface Row {
  disk: string;
  guest?: string;
  layers: number | null;
  allocated: number | null;
  last?: { snap: string; created: string };
  status: string;
  problems: string[];
}

/** The disk's image files and the bytes the file system allocates for them. */
async function onDisk(dir: string, disk: string): Promise<{ files: number; allocated: number }> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(`${disk}.qcow2`));
  const sizes = await Promise.all(names.map(async (n) => (await stat(join(dir, n))).blocks * 512));
  return { files: names.length, allocated: sizes.reduce((a, b) => a + b, 0) };
}

describe('lvchain list', () => {
  it('shows each disk with the layers and space its files have, its newest snapshot, and the health check judges', async () => {
    lab = await DirLab.create('lvchain-list-');
    const config = (snapshots: string[]) =>
      lab.writeRawConfig({
        version: 1,
        directories: { lab: { path: './store' } },
        policies: { hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 5 } } },
        guests: {
          web: {
            storage: 'lab',
            policy: 'hourly',
            disks: { 'vm-901-disk-0': { size: '8MiB' }, 'vm-901-disk-1': { size: '8MiB' } },
          },
        },
        disks: {
          'vm-902-disk-0': {
            storage: 'lab',
            size: '16MiB',
            ...(snapshots.length > 0 ? { snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) } : {}),
          },
        },
      });
    await config(['s1']);
    await lab.apply();
    await writePattern(lab.top('vm-902-disk-0'), 0, 4 * 1024 * 1024, 0x5c);
    await config(['s1', 's2']);
    await lab.apply();
    const check = await lab.run(['check', '--json']);
    const r = await lab.run(['list', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { disks: Row[] }).disks;
    expect(rows.map((x) => x.disk)).toEqual(['vm-901-disk-0', 'vm-901-disk-1', 'vm-902-disk-0']);
    for (const row of rows) {
      const files = await onDisk(lab.diskDir(row.disk), row.disk);
      expect(row.layers).toBe(files.files);
      expect(row.allocated).toBe(files.allocated);
    }
    const standalone = rows[2] as Row;
    expect(standalone.last?.snap).toBe('s2');
    expect(standalone.layers).toBe(3);
    expect(rows[0]?.guest).toBe('web');
    // The guest's hourly policy has taken no snapshot yet: check says so, and list says the same.
    const statuses = (JSON.parse(check.stdout) as { results: { group?: string; status: string }[] }).results
      .filter((x) => x.group === 'guest.web')
      .map((x) => x.status);
    expect(statuses.length).toBeGreaterThan(0);
    const worst = ['CRITICAL', 'WARNING', 'OK'].find((s) => statuses.includes(s));
    expect(rows[0]?.status).toBe(worst);

    // As text: one line per disk, and the guest's problems under its rows.
    const text = await lab.run(['list', '--now', new Date(Date.now() + 3 * 3600_000).toISOString()]);
    expect(text.exitCode, text.stderr).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^DISK\s+STORAGE\s+GUEST\s+SIZE\s+LAYERS\s+ALLOCATED\s+LAST SNAPSHOT\s+STATUS$/);
    expect(lines.find((l) => l.startsWith('vm-902-disk-0'))).toMatch(/\bs2 \(3h ago\)/);
    expect(lines.find((l) => l.startsWith('vm-901-disk-0'))).toMatch(/(WARNING|CRITICAL)$/);
  });
});
