/**
 * `lvchain check` through the built CLI, on a directory storage with
 * real qemu-img: snapshots are taken by `apply --now`, and ages judged by `check --now`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rename, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { parseExposition } from '../helpers/exposition.js';

const T = Date.parse('2026-01-05T10:00:00Z');
const MIN = 60_000;
const at = (minutes: number) => new Date(T + minutes * MIN).toISOString();
const SNAP = 'auto-20260105T1000Z';

function config(reserve?: string): Record<string, unknown> {
  return {
    version: 1,
    directories: { lab: { path: './store', ...(reserve ? { reserve } : {}) } },
    policies: {
      hourly: {
        timezone: 'Europe/Berlin',
        schedule: '0 * * * *',
        retention: { last: 3, hourly: 24 },
      },
    },
    guests: {
      web: {
        storage: 'lab',
        policy: 'hourly',
        disks: { 'vm-401-disk-0': { size: '8MiB' }, 'vm-401-disk-1': { size: '8MiB' } },
      },
    },
    disks: { 'vm-402-disk-0': { storage: 'lab', size: '8MiB', snapshots: { before: {} } } },
  };
}

describe('lvchain check on a directory storage', () => {
  let lab: DirLab;
  beforeAll(async () => {
    lab = await DirLab.create('lvchain-check-');
    await lab.writeRawConfig(config());
    // Creates the disks, takes the due auto snapshot of guest web and vm-402's pinned one at T.
    const r = await lab.apply('--now', at(0));
    expect(r.stdout).toContain(`snapshot.vm-401-disk-0@${SNAP}`);
  });
  afterAll(async () => lab.dispose());

  it('is OK half an hour after the snapshot, WARNING at 2 h, CRITICAL past 3 h, and changes nothing', async () => {
    const before = await lab.snapshotTree();
    const ok = await lab.run(['check', '--now', at(30)]);
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout.split('\n')[0]).toMatch(
      /^LVCHAIN OK - 1 storage\(s\), 3 disk\(s\) and 1 scheduled group\(s\) healthy \| 'lab free'=\d+B;0:;;0;\d+ 'guest\.web age'=1800s;5400;10800;0;$/,
    );

    const warn = await lab.run(['check', '--now', at(120)]);
    expect(warn.exitCode, warn.stdout).toBe(1);
    expect(warn.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^LVCHAIN WARNING - 1 warning: guest\\.web: last snapshot ${SNAP} taken 2h ago, late after 1h30m;`,
      ),
    );

    const crit = await lab.run(['check', '--now', at(181)]);
    expect(crit.exitCode, crit.stdout).toBe(2);
    const [first, ...detail] = crit.stdout.trimEnd().split('\n');
    expect(first).toMatch(
      new RegExp(
        `^LVCHAIN CRITICAL - 1 critical: guest\\.web: last snapshot ${SNAP} taken 3h01m ago, critical after 3h;`,
      ),
    );
    expect(detail[0]).toMatch(/^CRITICAL guest\.web: /);
    expect(detail.at(-1)).toMatch(/^\d+ other check\(s\) OK/);
    expect(await lab.snapshotTree(), 'check is read-only').toEqual(before);
  });

  it('--json reports every result with its figures', async () => {
    const r = await lab.run(['check', '--json', '--now', at(181)]);
    expect(r.exitCode).toBe(2);
    const doc = JSON.parse(r.stdout) as {
      status: string;
      exit_code: number;
      now: string;
      results: {
        check: string;
        status: string;
        group: string | null;
        disk: string | null;
        values: Record<string, unknown>;
      }[];
    };
    expect(doc).toMatchObject({ status: 'CRITICAL', exit_code: 2, now: '2026-01-05T13:01:00Z' });
    expect(doc.results.find((x) => x.check === 'schedule')).toMatchObject({
      status: 'CRITICAL',
      group: 'guest.web',
      values: { policy: 'hourly', last_snapshot: SNAP, age_seconds: 10_860, period_seconds: 3600 },
    });
    const disks = doc.results
      .filter((x) => x.check === 'chain')
      .map((x) => [x.disk, x.status, x.values['verified']]);
    expect(disks).toEqual([
      ['vm-401-disk-0', 'OK', true],
      ['vm-401-disk-1', 'OK', true],
      ['vm-402-disk-0', 'OK', true],
    ]);
    expect(doc.results.find((x) => x.check === 'depth' && x.disk === 'vm-402-disk-0')?.values).toEqual({
      depth: 1,
      max_depth: 32,
    });
  });

  it('--prometheus FILE writes a textfile that parses, atomically, and still prints the Nagios line', async () => {
    const file = join(lab.root, 'textfile', 'lvchain.prom');
    await mkdir(join(lab.root, 'textfile'));
    const r = await lab.run(['check', '--prometheus', file, '--now', at(181)]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toMatch(/^LVCHAIN CRITICAL - /);
    expect(await readdir(join(lab.root, 'textfile')), 'no temporary file is left').toEqual(['lvchain.prom']);
    const families = new Map(parseExposition(await readFile(file, 'utf8')).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(value('lvchain_check_status')).toBe(2);
    expect(value('lvchain_check_timestamp_seconds')).toBe((T + 181 * MIN) / 1000);
    const web = { storage: 'lab', group: 'guest.web', policy: 'hourly' };
    expect(value('lvchain_last_snapshot_timestamp_seconds', web)).toBe(T / 1000);
    expect(value('lvchain_snapshot_age_seconds', web)).toBe(10_860);
    expect(value('lvchain_schedule_period_seconds', web)).toBe(3600);
    expect(value('lvchain_schedule_status', web)).toBe(2);
    expect(value('lvchain_chain_depth', { disk: 'vm-401-disk-0' })).toBe(1);
    expect(value('lvchain_chain_depth_max', { disk: 'vm-401-disk-0' })).toBe(32);
    expect(value('lvchain_drift', { disk: 'vm-402-disk-0' })).toBe(0);
    expect(value('lvchain_interrupted_operations', { disk: 'vm-402-disk-0' })).toBe(0);
    expect(value('lvchain_storage_free_bytes', { storage: 'lab' })).toBeGreaterThan(0);
    expect(value('lvchain_storage_reserve_bytes', { storage: 'lab' })).toBe(0);

    // "-" prints the metrics alone (execa strips the final line feed lvchain printed).
    const out = await lab.run(['check', '--prometheus', '-', '--now', at(30)]);
    expect(out.exitCode).toBe(0);
    expect(
      parseExposition(`${out.stdout}\n`).find((f) => f.name === 'lvchain_check_status')?.samples[0]?.value,
    ).toBe(0);
  });

  it('a hand-broken chain is CRITICAL drift naming the disk', async () => {
    const snap = lab.snap('vm-402-disk-0', 'before');
    await rename(snap, `${snap}.moved`);
    try {
      const r = await lab.run(['check', '--now', at(30)]);
      expect(r.exitCode, r.stdout).toBe(2);
      expect(r.stdout.split('\n')[0]).toMatch(
        /^LVCHAIN CRITICAL - 1 critical: disk\.vm-402-disk-0: drift: top is backed by snapshot before, which does not exist; lvchain leaves this disk alone/,
      );
    } finally {
      await rename(`${snap}.moved`, snap);
    }
    expect((await lab.run(['check', '--now', at(30)])).exitCode).toBe(0);
  });

  it('an interrupted operation is a WARNING', async () => {
    const sidecar = join(lab.diskDir('vm-402-disk-0'), 'vm-402-disk-0.lvchain.json');
    const original = await readFile(sidecar, 'utf8');
    const doc = JSON.parse(original) as { layers: Record<string, Record<string, unknown>> };
    (doc.layers['vm-402-disk-0.qcow2'] as Record<string, unknown>)['intent'] = {
      op: 'grow',
      size: 16 * 2 ** 20,
    };
    await writeFile(sidecar, JSON.stringify(doc));
    try {
      const r = await lab.run(['check', '--now', at(30)]);
      expect(r.exitCode, r.stdout).toBe(1);
      expect(r.stdout.split('\n')[0]).toMatch(
        /^LVCHAIN WARNING - 1 warning: disk\.vm-402-disk-0: an interrupted grow disk to 16777216 bytes; "lvchain apply" finishes it/,
      );
    } finally {
      await writeFile(sidecar, original);
    }
  });

  it('a storage below its reserve is a WARNING', async () => {
    const fs = await statfs(lab.root);
    const size = Number(fs.blocks) * Number(fs.bsize);
    await lab.writeRawConfig(config(`${Math.ceil(size / 2 ** 20)}MiB`));
    try {
      const r = await lab.run(['check', '--now', at(30)]);
      expect(r.exitCode, r.stdout).toBe(1);
      expect(r.stdout.split('\n')[0]).toMatch(
        /^LVCHAIN WARNING - 1 warning: storage lab: free space .* is below the reserve of .*; plans that need space are refused \| 'lab free'=\d+B;\d+:;;0;\d+ /,
      );
    } finally {
      await lab.writeRawConfig(config());
    }
  });

  it('an unreachable host is UNKNOWN for its storage; the others are still checked', async () => {
    const c = config();
    c['hosts'] = { gone: { ssh: { host: '127.0.0.1', port: 1, knownHosts: 'off' } } };
    c['volumeGroups'] = { vg_gone: { host: 'gone' } };
    await lab.writeRawConfig(c);
    try {
      const r = await lab.run(['check', '--json', '--now', at(30)]);
      expect(r.exitCode, r.stdout).toBe(3);
      const doc = JSON.parse(r.stdout) as {
        results: { check: string; storage: string; status: string; message: string }[];
      };
      expect(doc.results.filter((x) => x.check === 'storage').map((x) => [x.storage, x.status])).toEqual([
        ['lab', 'OK'],
        ['vg_gone', 'UNKNOWN'],
      ]);
      expect(doc.results.find((x) => x.storage === 'vg_gone')?.message).toMatch(/^could not be checked: /);
      expect(doc.results.filter((x) => x.check === 'chain')).toHaveLength(3);
    } finally {
      await lab.writeRawConfig(config());
    }
  });
});

describe('lvchain check when it cannot check', () => {
  let lab: DirLab;
  beforeAll(async () => {
    lab = await DirLab.create('lvchain-check-bad-');
  });
  afterAll(async () => lab.dispose());

  it('a bad config is UNKNOWN (3), on one line naming the problem', async () => {
    const c = config();
    (c['directories'] as Record<string, Record<string, unknown>>)['lab']!['reserv'] = '5%';
    await lab.writeRawConfig(c);
    const r = await lab.run(['check']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(
      /^LVCHAIN UNKNOWN - \S+lvchain\.yaml:\d+:\d+: directories\.lab\.reserv: unknown key "reserv"; did you mean "reserve"\?$/,
    );

    const prom = await lab.run(['check', '--prometheus', '-']);
    expect(prom.exitCode).toBe(3);
    expect(
      parseExposition(`${prom.stdout}\n`).find((f) => f.name === 'lvchain_check_status')?.samples[0]?.value,
    ).toBe(3);
  });

  it('a missing config and a usage error are UNKNOWN too', async () => {
    const missing = await lab.run(['-c', join(lab.root, 'nope.yaml'), 'check']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stdout).toMatch(/^LVCHAIN UNKNOWN - .*nope\.yaml/);
    const usage = await lab.run(['check', '--now', 'yesterday']);
    expect(usage.exitCode).toBe(3);
    expect(usage.stdout).toMatch(
      /^LVCHAIN UNKNOWN - option '--now <instant>' argument 'yesterday' is invalid/,
    );
    const both = await lab.run(['check', '--json', '--prometheus', '-']);
    expect(both.exitCode).toBe(3);
    expect(both.stdout).toMatch(/^LVCHAIN UNKNOWN - --json and --prometheus - both write to stdout/);
    await lab.writeRawConfig(config());
    const unwritable = await lab.run([
      'check',
      '--prometheus',
      join(lab.root, 'no-such-dir', 'lvchain.prom'),
    ]);
    expect(unwritable.exitCode).toBe(3);
    expect(unwritable.stdout).toMatch(/^LVCHAIN UNKNOWN - .*cannot write \S+lvchain\.prom: ENOENT/);
    const help = await lab.run(['check', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('--prometheus <file>');
  });
});
