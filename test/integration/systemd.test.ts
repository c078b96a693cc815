/**
 * The systemd units in examples/systemd are valid and their command lines run.
 *
 * `systemd-analyze verify` checks unit files offline, without systemd running as PID 1. It also
 * checks that ExecStart's binary exists and is executable, and it resolves every unit the files
 * depend on (sysinit.target, network-online.target, timers.target). So the units are verified,
 * unchanged, inside a temporary root (`--root`): the files under its /etc/systemd/system, a stub
 * /usr/local/bin/lvchain that hands over to the built CLI, and a copy of the host's own unit
 * directory for the dependencies (with --root, systemd-analyze looks nothing up outside it).
 * Warnings (an unknown key, a bad value) leave the exit code at 0, so any output fails the test.
 *
 * Then the command lines of the units run against a real directory storage, so a flag that the
 * CLI does not know fails here rather than at 3 a.m.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI, REPO } from '../helpers/cli.js';
import { DirLab } from '../helpers/dirlab.js';
import { requireTool } from '../helpers/tools.js';

const UNITS_DIR = join(REPO, 'examples', 'systemd');
const UNITS = [
  'lvchain-reconcile.service',
  'lvchain-reconcile.timer',
  'lvchain-check.service',
  'lvchain-check.timer',
];
const BIN = '/usr/local/bin/lvchain';
const CONFIG = '/etc/lvchain/lvchain.yaml';
const TEXTFILE = '/var/lib/prometheus/node-exporter/lvchain.prom';

type Unit = Map<string, Map<string, string[]>>;

/** The sections and keys of a unit file; a key given several times keeps every value. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = new Map();
      unit.set(head[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`unexpected line in unit file: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

const unitText = (name: string) => readFile(join(UNITS_DIR, name), 'utf8');
const value = (u: Unit, section: string, key: string) => u.get(section)?.get(key)?.join(' ');

/** A root for `systemd-analyze verify --root`: the units, the stub binary, the host's units. */
async function makeRoot(dir: string, units: Record<string, string>, withBinary = true): Promise<string> {
  const root = join(dir, 'root');
  await mkdir(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  for (const [name, text] of Object.entries(units)) {
    await writeFile(join(root, 'etc', 'systemd', 'system', name), text);
  }
  const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));
  if (!hostUnits)
    throw new Error('no systemd unit directory on this host; install the Debian package systemd');
  await cp(hostUnits, join(root, 'usr', 'lib', 'systemd', 'system'), {
    recursive: true,
    verbatimSymlinks: true,
  });
  if (withBinary) {
    await mkdir(join(root, 'usr', 'local', 'bin'), { recursive: true });
    const stub = join(root, BIN);
    await writeFile(stub, `#!/bin/sh\nexec node '${CLI}' "$@"\n`);
    await chmod(stub, 0o755);
  }
  return root;
}

async function verify(root: string, units: readonly string[]) {
  const r = await execa('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...units], {
    reject: false,
    env: { SYSTEMD_LOG_COLOR: '0', LC_ALL: 'C' },
  });
  return { exitCode: r.exitCode ?? -1, output: `${String(r.stdout)}${String(r.stderr)}`.trim() };
}

describe('examples/systemd', () => {
  let dir: string;
  const texts: Record<string, string> = {};
  beforeAll(async () => {
    requireTool('systemd-analyze', 'systemd');
    dir = await mkdtemp(join(tmpdir(), 'lvchain-systemd-'));
    for (const name of UNITS) texts[name] = await unitText(name);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ships exactly the four units', async () => {
    const files = (await readdir(UNITS_DIR)).filter((f) => /\.(service|timer)$/.test(f)).sort();
    expect(files).toEqual([...UNITS].sort());
  });

  it('passes systemd-analyze verify without a single warning', async () => {
    const root = await makeRoot(join(dir, 'ok'), texts);
    const r = await verify(root, UNITS);
    expect(r.output).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('would notice a broken unit: the check itself can fail', async () => {
    // An unknown key is only a warning (exit 0): the output is what catches it.
    const typo = (texts['lvchain-reconcile.service'] as string).replace(
      'Type=oneshot',
      'Type=oneshot\nProtectSytem=full',
    );
    const bad = await verify(
      await makeRoot(join(dir, 'typo'), { ...texts, 'lvchain-reconcile.service': typo }),
      ['lvchain-reconcile.service'],
    );
    expect(bad.output).toMatch(/Unknown key.*ProtectSytem/);
    // And ExecStart must name an executable that exists.
    const missing = await verify(await makeRoot(join(dir, 'nobin'), texts, false), [
      'lvchain-reconcile.service',
    ]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.output).toContain(`Command ${BIN} is not executable`);
  });

  it('runs reconcile as a oneshot from a persistent timer, with hardening that leaves LVM and ssh working', () => {
    const service = parseUnit(texts['lvchain-reconcile.service'] as string);
    expect(value(service, 'Service', 'Type')).toBe('oneshot');
    expect(value(service, 'Service', 'ExecStart')).toBe(`${BIN} -c ${CONFIG} reconcile --lock-timeout 10m`);
    // LVM needs the host's /dev (device-mapper, the PVs): no private /dev, no device allow-list
    // (ProtectClock= implies one on some systemd versions).
    for (const key of ['PrivateDevices', 'DevicePolicy', 'DeviceAllow', 'ProtectClock', 'PrivateNetwork']) {
      expect(service.get('Service')?.has(key), key).toBe(false);
    }
    // Node's JIT needs writable executable memory.
    expect(service.get('Service')?.has('MemoryDenyWriteExecute')).toBe(false);
    // LVM writes its metadata backups under /etc/lvm and locks under /run: not a read-only /etc or /run.
    expect(value(service, 'Service', 'ProtectSystem')).toMatch(/^(true|yes|full)$/);
    expect(service.get('Service')?.get('ReadWritePaths')).toContain('-/etc/lvm');
    // ssh needs the network.
    const families = value(service, 'Service', 'RestrictAddressFamilies')?.split(/\s+/) ?? [];
    expect(families).toEqual(expect.arrayContaining(['AF_UNIX', 'AF_INET', 'AF_INET6']));
    // A stop lets lvchain finish the step in flight, as Ctrl-C does.
    expect(value(service, 'Service', 'KillSignal')).toBe('SIGINT');
    expect(value(service, 'Service', 'KillMode')).toBe('mixed');

    const timer = parseUnit(texts['lvchain-reconcile.timer'] as string);
    expect(value(timer, 'Timer', 'Persistent')).toBe('true');
    expect(value(timer, 'Timer', 'OnCalendar')).toBe('*:0/5');
    expect(value(timer, 'Install', 'WantedBy')).toBe('timers.target');
    // The random delay stays well inside the 5-minute period, so no run is skipped.
    expect(Number(value(timer, 'Timer', 'RandomizedDelaySec'))).toBeLessThanOrEqual(120);

    const check = parseUnit(texts['lvchain-check.service'] as string);
    expect(value(check, 'Service', 'Type')).toBe('oneshot');
    expect(value(check, 'Service', 'ExecStart')).toBe(`${BIN} -c ${CONFIG} check --prometheus ${TEXTFILE}`);
    // WARNING and CRITICAL are published in the textfile; only UNKNOWN fails the unit.
    expect(value(check, 'Service', 'SuccessExitStatus')).toBe('1 2');
    expect(check.get('Service')?.get('ReadWritePaths')).toContain('/var/lib/prometheus/node-exporter');
    const checkTimer = parseUnit(texts['lvchain-check.timer'] as string);
    expect(value(checkTimer, 'Timer', 'Persistent')).toBe('true');
    expect(value(checkTimer, 'Install', 'WantedBy')).toBe('timers.target');
  });

  it("the units' command lines work with the real CLI on a directory storage", async () => {
    const lab = await DirLab.create('lvchain-systemd-lab-');
    try {
      await lab.writeRawConfig({
        version: 1,
        directories: { lab: { path: './store' } },
        policies: { hourly: { timezone: 'Europe/Berlin', schedule: '0 * * * *', retention: { last: 3 } } },
        disks: { 'vm-900-disk-0': { storage: 'lab', size: '4MiB', policy: 'hourly' } },
      });
      await lab.apply();
      const textfile = join(lab.root, 'node-exporter', 'lvchain.prom');
      await mkdir(join(lab.root, 'node-exporter'));
      const argv = (name: string) =>
        (value(parseUnit(texts[name] as string), 'Service', 'ExecStart') ?? '')
          .split(' ')
          .map((a) => (a === CONFIG ? lab.configPath : a === TEXTFILE ? textfile : a));
      const env = { LVCHAIN_IN_AUTOMATION: '1', NO_COLOR: '1' };

      const [bin, ...reconcileArgs] = argv('lvchain-reconcile.service');
      expect(bin).toBe(BIN);
      const rec = await execa('node', [CLI, ...reconcileArgs], { reject: false, env });
      expect(rec.exitCode, String(rec.stderr)).toBe(0);
      expect(String(rec.stdout)).toMatch(
        /^lvchain reconcile ok: [01] snapshot\(s\) taken, 0 pruned, 0 resumed \(/,
      );

      const [, ...checkArgs] = argv('lvchain-check.service');
      const chk = await execa('node', [CLI, ...checkArgs], { reject: false, env });
      expect(chk.exitCode, String(chk.stdout)).toBe(0);
      expect(String(chk.stdout)).toMatch(/^LVCHAIN OK - /);
      expect(await readFile(textfile, 'utf8')).toMatch(/^lvchain_check_status 0$/m);
    } finally {
      await lab.dispose();
    }
  });
});
