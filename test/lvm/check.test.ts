/**
 * `lvchain check` on thick LVM in the lab VM over ssh: a healthy chain is OK and
 * verified from its headers, and an inactive chain stays inactive and is reported as not verified.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { useLab } from '../lab/vm.js';
import { LvmLab, must } from '../helpers/lvmlab.js';
import { parseExposition } from '../helpers/exposition.js';

const VG = 'vg_check';
const DISK = 'vm-601-disk-0';
const T = Date.parse('2026-01-05T10:00:00Z');
const at = (minutes: number) => new Date(T + minutes * 60_000).toISOString();

interface Doc {
  status: string;
  results: {
    check: string;
    status: string;
    disk: string | null;
    message: string;
    values: Record<string, unknown>;
  }[];
}

describe('lvchain check on thick LVM over ssh', () => {
  const lab = useLab({ disks: [{ sizeMiB: 256 }] });
  let lvm: LvmLab;

  beforeAll(async () => {
    lvm = await LvmLab.create(lab(), VG, lab().devices[0]);
    await lvm.writeConfig({
      policies: { hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 3 } } },
      disks: { [DISK]: { storage: VG, size: '16MiB', policy: 'hourly' } },
    });
    const r = await lvm.run(['apply', '--auto-approve', '--now', at(0)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => lvm.dispose());

  async function check(name: string, ...args: string[]) {
    const log = join(lvm.dir, `${name}.ndjson`);
    const prom = join(lvm.dir, `${name}.prom`);
    await rm(log, { force: true });
    const r = await lvm.run(['--command-log', log, 'check', '--json', '--prometheus', prom, ...args]);
    const events = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { host: string; argv: string[] });
    return {
      exitCode: r.exitCode,
      doc: JSON.parse(r.stdout) as Doc,
      metrics: parseExposition(await readFile(prom, 'utf8')),
      remote: events.filter((e) => e.host !== 'local'),
      stderr: r.stderr,
    };
  }

  it('a healthy chain is OK (0), its headers read and verified', async () => {
    const r = await check('healthy', '--now', at(30));
    expect(r.exitCode, JSON.stringify(r.doc, null, 1) + r.stderr).toBe(0);
    const chain = r.doc.results.find((x) => x.check === 'chain');
    expect(chain).toMatchObject({
      status: 'OK',
      disk: DISK,
      values: { verified: true, drift: false, layers: 2 },
    });
    expect(r.doc.results.find((x) => x.check === 'metadata')?.status).toBe('OK');
    expect(r.doc.results.find((x) => x.check === 'schedule')).toMatchObject({
      status: 'OK',
      values: { age_seconds: 1800, last_snapshot: 'auto-20260105T1000Z' },
    });
    const depth = r.metrics.find((f) => f.name === 'lvchain_chain_depth')?.samples;
    expect(depth).toEqual([{ name: 'lvchain_chain_depth', labels: { storage: VG, disk: DISK }, value: 1 }]);
    // One lvs, the header batches and one measure batch: round trips grow with storages, not disks.
    expect(r.remote.length).toBeLessThanOrEqual(4);
  });

  it('leaves an inactive chain inactive and reports it as not verified', async () => {
    const lvs = [...(await lvm.lvs()).keys()].filter((n) => n.includes(DISK));
    expect(lvs).toHaveLength(2);
    await must(lab(), ['lvchange', '-an', ...lvs.map((n) => `${VG}/${n}`)]);
    const before = await lvm.lvs();
    expect([...before.values()].map((x) => x.attr[4])).toEqual(['-', '-']);

    const r = await check('inactive', '--now', at(30));
    expect(await lvm.lvs(), 'check changed no LV, activation included').toEqual(before);
    expect(r.remote.map((e) => e.argv.join(' ')).join('\n')).not.toMatch(
      /lvchange|lvcreate|lvremove|lvrename|vgchange/,
    );
    expect(r.exitCode, JSON.stringify(r.doc, null, 1)).toBe(0);
    expect(r.doc.results.find((x) => x.check === 'chain')).toMatchObject({
      status: 'OK',
      values: { verified: false, drift: false },
      message: expect.stringMatching(/not verified: 2 inactive LV\(s\), which check does not activate/),
    });
    expect(r.doc.results.find((x) => x.check === 'depth')?.values['depth']).toBe(1);
    const verified = r.metrics.find((f) => f.name === 'lvchain_chain_verified')?.samples[0]?.value;
    expect(verified).toBe(0);
  });
});
