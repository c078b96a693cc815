/**
 * Bad input (DESIGN §9): every malformed config in test/fixtures/bad-configs gives a
 * specific error at the right file:line:col and config path, through the real CLI, and
 * leaves its directory exactly as it was.
 */
import { copyFile, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lvchain } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bad-configs');

interface Expected {
  line: number;
  col: number;
  /** The dotted config path; '' for YAML syntax errors, which have none. */
  path: string;
  message: RegExp;
}

const GUEST_DISK = 'guests.web-401.disks';
const SIZE = `${GUEST_DISK}.vm-401-disk-0.size`;
const NAME_RULE = /use letters, digits, "_", "\." or "-", starting and ending with a letter or digit/;
const SNAP_RULE = /use a letter, then letters, digits, "_" or "-"/;

/** Fixture file name (without .yaml) → the error it must produce. */
const EXPECTED: Record<string, Expected> = {
  // YAML syntax
  'yaml-bad-indent': {
    line: 8,
    col: 6,
    path: '',
    message: /^bad indentation: .*deeper than the key on line 7/,
  },
  'yaml-unclosed-quote': {
    line: 4,
    col: 11,
    path: '',
    message: /quoted string is never closed: add the closing "/,
  },
  'yaml-tab-indent': { line: 4, col: 1, path: '', message: /tab is used for indentation; .*spaces only/ },
  'yaml-duplicate-key': {
    line: 10,
    col: 7,
    path: `${GUEST_DISK}.vm-401-disk-0`,
    message: /duplicate key "vm-401-disk-0" \(first on line 9\)/,
  },
  'yaml-multiple-documents': { line: 5, col: 1, path: '', message: /more than one YAML document/ },
  'alias-bomb': { line: 7, col: 8, path: 'f[0]', message: /alias \*e expands to \d+ values.*alias bombs/ },
  empty: { line: 1, col: 1, path: '', message: /the file is empty; it needs at least "version: 1"/ },
  'comments-only': { line: 1, col: 1, path: '', message: /the file is empty/ },
  'not-a-map': {
    line: 1,
    col: 1,
    path: '',
    message: /must be a map with keys such as "version".*not a list/,
  },

  // version
  'version-missing': {
    line: 1,
    col: 1,
    path: 'version',
    message: /"version" is required; start the file with "version: 1"/,
  },
  'version-wrong': { line: 1, col: 10, path: 'version', message: /must be 1 .*not 2$/ },
  'version-string': {
    line: 1,
    col: 10,
    path: 'version',
    message: /must be the number 1, not the string "1"/,
  },

  // unknown keys, at several depths
  'unknown-key-top': {
    line: 5,
    col: 1,
    path: 'storages',
    message: /unknown key "storages"; expected one of "version", "hosts", "volumeGroups", "directories"/,
  },
  'unknown-key-typo-top': {
    line: 5,
    col: 1,
    path: 'guest',
    message: /unknown key "guest"; did you mean "guests"\?/,
  },
  'unknown-key-vg': {
    line: 5,
    col: 5,
    path: 'volumeGroups.vg_san1.reserv',
    message: /unknown key "reserv"; did you mean "reserve"\?/,
  },
  'unknown-key-guest-disk': {
    line: 11,
    col: 9,
    path: `${GUEST_DISK}.vm-401-disk-0.format`,
    message: /unknown key "format"; expected one of "size", "protect"$/,
  },
  'unknown-key-disk-typo': {
    line: 8,
    col: 5,
    path: 'disks.vm-401-disk-0.sise',
    message: /unknown key "sise"; did you mean "size"\?/,
  },
  'unknown-key-retention': {
    line: 11,
    col: 7,
    path: 'policies.hourly.retention.hourley',
    message: /unknown key "hourley"; did you mean "hourly"\?/,
  },
  'unknown-key-host': {
    line: 5,
    col: 5,
    path: 'hosts.pve1.address',
    message: /unknown key "address"; expected one of "ssh"/,
  },

  // sizes
  'size-decimal-unit': {
    line: 10,
    col: 15,
    path: SIZE,
    message: /"32GB" uses the decimal unit GB; .*binary units only.*write 32GiB/,
  },
  'size-fraction': {
    line: 10,
    col: 15,
    path: SIZE,
    message: /"1\.5GiB" is not a whole number of GiB; write 1536MiB/,
  },
  'size-negative': { line: 10, col: 15, path: SIZE, message: /"-1GiB" is negative/ },
  'size-zero': { line: 10, col: 15, path: SIZE, message: /0MiB is too small; disks are at least 1MiB/ },
  'size-too-small': { line: 10, col: 15, path: SIZE, message: /100B is too small; disks are at least 1MiB/ },
  'size-plain-number': {
    line: 10,
    col: 15,
    path: SIZE,
    message: /1073741824 has no unit; .*binary unit \(1073741824 bytes is 1GiB\)/,
  },
  'size-unaligned': { line: 10, col: 15, path: SIZE, message: /1048577B is not a multiple of 512 bytes/ },
  'size-too-large': { line: 10, col: 15, path: SIZE, message: /"99999999PiB" is too large/ },

  // disk names
  'disk-name-slash': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}["vm-401/disk-0"]`,
    message: new RegExp(`disk names cannot contain "/"; ${NAME_RULE.source}`),
  },
  'disk-name-dotdot': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}[".."]`,
    message: /disk names cannot start with "\."/,
  },
  'disk-name-space': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}["vm 401 disk 0"]`,
    message: /disk names cannot contain a space/,
  },
  'disk-name-semicolon': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}["vm-401-disk-0;reboot"]`,
    message: /disk names cannot contain ";"/,
  },
  'disk-name-subshell': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}["$(reboot)"]`,
    message: /disk names cannot contain "\$"/,
  },
  'disk-name-backtick': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}["\`reboot\`"]`,
    message: /disk names cannot contain "`"/,
  },
  'disk-name-leading-dash': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}.-vm-401-disk-0`,
    message: /disk names cannot start with "-"/,
  },
  'disk-name-reserved-prefix': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}.snap_vm-401-disk-0`,
    message: /cannot start with "snap_", "snap-" or "del-"/,
  },
  'disk-name-too-long': {
    line: 9,
    col: 7,
    path: `${GUEST_DISK}.vm-401-disk-${'x'.repeat(70)}`,
    message: /disk names have at most 80 characters; this one has 82/,
  },

  // snapshot names
  'snapshot-name-slash': {
    line: 11,
    col: 7,
    path: 'guests.web-401.snapshots["pre/upgrade"]',
    message: new RegExp(`snapshot names cannot contain "/"; ${SNAP_RULE.source}`),
  },
  'snapshot-name-space': {
    line: 11,
    col: 7,
    path: 'guests.web-401.snapshots["pre upgrade"]',
    message: /snapshot names cannot contain a space/,
  },
  'snapshot-name-leading-digit': {
    line: 11,
    col: 7,
    path: 'guests.web-401.snapshots.2024-upgrade',
    message: /snapshot names cannot start with "2"/,
  },
  'snapshot-name-too-long': {
    line: 11,
    col: 7,
    path: 'guests.web-401.snapshots.before-the-big-upgrade-to-debian-trixie-x',
    message: /snapshot names have at most 40 characters; this one has 41/,
  },
  'snapshot-name-auto-prefix': {
    line: 11,
    col: 7,
    path: 'guests.web-401.snapshots.auto-20240101',
    message: /"auto-" are reserved for scheduled snapshots/,
  },
  'lv-name-too-long': {
    line: 10,
    col: 7,
    path: `disks.vm-401-disk-${'x'.repeat(66)}.snapshots.before-the-big-upgrade-to-debian-trixie`,
    message:
      /LV name snap_vm-401-disk-x+_before-the-big-upgrade-to-debian-trixie\.qcow2 would be 129 characters; LVM allows 127/,
  },

  // duplicates and references
  'disk-in-two-guests': {
    line: 14,
    col: 7,
    path: 'guests.db-402.disks.vm-401-disk-0',
    message: /disk "vm-401-disk-0" is already declared at guests\.web-401\.disks\.vm-401-disk-0/,
  },
  'disk-in-guest-and-top': {
    line: 11,
    col: 3,
    path: 'disks.vm-401-disk-0',
    message: /disk "vm-401-disk-0" is already declared at guests\.web-401\.disks\.vm-401-disk-0/,
  },
  'guest-no-disks': {
    line: 8,
    col: 5,
    path: 'guests.web-401.disks',
    message: /a guest needs at least one disk/,
  },
  'guest-disks-missing': { line: 7, col: 5, path: 'guests.web-401.disks', message: /^"disks" is required$/ },
  'unknown-storage': {
    line: 7,
    col: 14,
    path: 'guests.web-401.storage',
    message: /unknown storage "labs"; did you mean "lab"\? \(declared volumeGroups or directories: lab\)/,
  },
  'unknown-policy': {
    line: 14,
    col: 13,
    path: 'disks.vm-401-disk-0.policy',
    message: /unknown policy "daily" \(declared policies: hourly\)/,
  },
  'unknown-host': {
    line: 6,
    col: 11,
    path: 'volumeGroups.vg_san1.host',
    message: /unknown host "pve2"; did you mean "pve1"\?/,
  },
  'storage-vg-and-dir': {
    line: 6,
    col: 3,
    path: 'directories.lab',
    message: /storage "lab" is declared both as a volume group and as a directory/,
  },

  // policies
  'unknown-timezone': {
    line: 4,
    col: 15,
    path: 'policies.hourly.timezone',
    message: /unknown time zone "Europe\/Berlinn"; did you mean "Europe\/Berlin"\?/,
  },
  'policy-no-timezone': {
    line: 4,
    col: 5,
    path: 'policies.daily.timezone',
    message: /^"timezone" is required$/,
  },
  'bad-cron': {
    line: 5,
    col: 15,
    path: 'policies.hourly.schedule',
    message: /cron "0 \* \* \*" has 4 field\(s\); expected 5/,
  },
  'bad-cron-range': {
    line: 5,
    col: 15,
    path: 'policies.hourly.schedule',
    message: /invalid cron "0 25 \* \* \*".*hour/,
  },
  'retention-exceeds-depth': {
    line: 6,
    col: 5,
    path: 'policies.hourly-prod.retention',
    message: /can keep up to 40 snapshots, more than maxChainDepth 32/,
  },
  'pinned-exceeds-depth': {
    line: 16,
    col: 5,
    path: 'disks.vm-401-disk-0.snapshots',
    message:
      /2 pinned snapshot\(s\) and policy hourly, the chain can reach 5 snapshots, more than maxChainDepth 4/,
  },
  'retention-zero': {
    line: 7,
    col: 14,
    path: 'policies.daily.retention.daily',
    message: /must be at least 1/,
  },
  'retention-bad-duration': {
    line: 7,
    col: 15,
    path: 'policies.daily.retention.within',
    message: /"2 days" is not a duration; write 2d/,
  },

  // storages and hosts
  'reserve-over-100': {
    line: 4,
    col: 14,
    path: 'volumeGroups.vg_san1.reserve',
    message: /"110%" is not below 100%/,
  },
  'reserve-words': {
    line: 5,
    col: 14,
    path: 'directories.lab.reserve',
    message: /"ten percent" is neither a percentage \(e\.g\. 10%\) nor a size/,
  },
  'wipe-bad': {
    line: 5,
    col: 11,
    path: 'volumeGroups.vg_san1.wipe',
    message: /"zero" is not a wipe mode; use none, zeroout-on-free or zeroout-on-create/,
  },
  'pvs-not-dev': {
    line: 6,
    col: 9,
    path: 'volumeGroups.vg_san1.pvs[1]',
    message: /"sdb" is not a device: pvs must be absolute \/dev paths/,
  },
  'pvs-not-list': {
    line: 4,
    col: 10,
    path: 'volumeGroups.vg_san1.pvs',
    message: /must be a list of device paths.*not the string "\/dev\/sdb"/,
  },
  'vg-name-bad': {
    line: 3,
    col: 3,
    path: 'volumeGroups.-vg_san1',
    message: /VG names cannot start with "-"/,
  },
  'directory-path-empty': { line: 4, col: 11, path: 'directories.lab.path', message: /must not be empty/ },
  'ssh-bad-destination': {
    line: 4,
    col: 10,
    path: 'hosts.pve1.ssh',
    message: /"root@pve1\.example\.net; reboot" is not \[user@\]host: the host cannot contain ";"/,
  },
  'ssh-option-injection': {
    line: 4,
    col: 10,
    path: 'hosts.pve1.ssh',
    message: /"-oProxyCommand" is not \[user@\]host: a host cannot start with "-"/,
  },
  'ssh-bad-port': {
    line: 7,
    col: 13,
    path: 'hosts.pve1.ssh.port',
    message: /70000 is not a port number; ports go from 1 to 65535/,
  },

  // wrong types
  'wrong-type-string-for-map': {
    line: 5,
    col: 9,
    path: 'guests',
    message: /must be a map of names to settings, not the string "web-401"/,
  },
  'wrong-type-list-for-map': {
    line: 2,
    col: 1,
    path: 'directories',
    message: /must be a map of names to settings, not a list/,
  },
  'wrong-type-boolean': {
    line: 9,
    col: 14,
    path: 'disks.vm-401-disk-0.protect',
    message: /must be true or false, not the string "yes"/,
  },
  'wrong-type-count': {
    line: 7,
    col: 14,
    path: 'policies.daily.retention.daily',
    message: /must be a whole number, not the string "seven"/,
  },

  // untrusted names and values: prototype names, sizes, shared file names, paths
  'name-proto-key': { line: 6, col: 3, path: 'disks', message: /"__proto__" cannot be a name or key/ },
  'storage-constructor': {
    line: 7,
    col: 14,
    path: 'disks.vm-401-disk-0.storage',
    message: /storage names cannot be "constructor", which every JavaScript object has as a member/,
  },
  'policy-constructor': {
    line: 8,
    col: 13,
    path: 'guests.web-401.policy',
    message: /policy names cannot be "constructor", which every JavaScript object has/,
  },
  'reserve-too-large': {
    line: 5,
    col: 14,
    path: 'directories.lab.reserve',
    message: /"9999999999999999999999B" is too large; sizes must be below 8PiB/,
  },
  'reserve-huge-pib': {
    line: 5,
    col: 14,
    path: 'directories.lab.reserve',
    message: /"1000000PiB" is too large/,
  },
  'size-above-qcow2-max': {
    line: 8,
    col: 11,
    path: 'disks.vm-401-disk-0.size',
    message: /7PiB is too large; a qcow2 image .* holds at most 4PiB/,
  },
  'snapshot-file-collision': {
    line: 10,
    col: 7,
    path: 'disks.vm-900-a.snapshots.q-vm-900-b',
    message:
      /snapshot "q-vm-900-b" of disk "vm-900-a" would be stored as images\/900\/snap-q-vm-900-b-vm-900-a\.qcow2 .*disk "vm-900-b-vm-900-a"/,
  },
  'directory-path-system': {
    line: 4,
    col: 11,
    path: 'directories.lab.path',
    message: /\/etc is in the system directory \/etc/,
  },
  'directory-path-root': {
    line: 4,
    col: 11,
    path: 'directories.lab.path',
    message: /^\/ is a system directory/,
  },
  'directory-path-file': {
    line: 4,
    col: 11,
    path: 'directories.lab.path',
    message: /directory-path-file\.yaml is a file; it must be a directory/,
  },
  'directory-path-dev-null': {
    line: 4,
    col: 11,
    path: 'directories.lab.path',
    message: /^\/dev\/null is a device; it must be a directory/,
  },
  'directory-path-too-long': {
    line: 4,
    col: 11,
    path: 'directories.lab.path',
    message: /is \d{4} bytes long; .*Linux allows 4095/,
  },
  'directories-same-path': {
    line: 6,
    col: 11,
    path: 'directories.lab2.path',
    message: /\/store is the same path as directory "lab"/,
  },
  'directories-nested': {
    line: 6,
    col: 11,
    path: 'directories.inner.path',
    message: /\/store\/images\/401 is inside directory "lab"/,
  },
  'ssh-host-port': {
    line: 4,
    col: 10,
    path: 'hosts.pve1.ssh',
    message: /":22" looks like a port; write ssh as a map with host: pve1\.example\.com and port: 22/,
  },
  'ssh-identity-nul': {
    line: 6,
    col: 21,
    path: 'hosts.pve1.ssh.identityFile',
    message: /must not contain control characters such as NUL/,
  },
  'yaml-deep-nesting': { line: 2, col: 40, path: '', message: /nested more than 32 levels deep here/ },
};

interface Reported {
  file: string;
  line: number;
  col: number;
  /** Everything after `file:line:col: `, i.e. `path: message` (or just the message). */
  rest: string;
}

/** The `Error: file:line:col: …` lines the CLI prints for a ConfigError. */
function reportedIssues(stderr: string): Reported[] {
  const out: Reported[] = [];
  for (const m of stderr.matchAll(/^│ Error: (.+?):(\d+):(\d+): (.*)$/gm)) {
    out.push({ file: m[1] as string, line: Number(m[2]), col: Number(m[3]), rest: m[4] as string });
  }
  return out;
}

function matches(r: Reported, file: string, e: Expected): boolean {
  if (r.file !== file || r.line !== e.line || r.col !== e.col) return false;
  const prefix = e.path === '' ? '' : `${e.path}: `;
  return r.rest.startsWith(prefix) && e.message.test(r.rest.slice(prefix.length));
}

/** Every file under `dir` with its size and mtime: what "nothing changed" compares. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      const s = await stat(p);
      out.push(`${relative(dir, p)}${entry.isDirectory() ? '/' : ''} ${s.size} ${s.mtimeMs}`);
      if (entry.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

const tmpDirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'lvchain-bad-config-')));
  tmpDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The commands a bad config must fail in the same way; apply is the one that would write. */
const COMMANDS: readonly (readonly string[])[] = [['validate'], ['plan'], ['apply', '--auto-approve']];

describe('bad configs', () => {
  it('has at least 40 fixtures, each with an expectation, and no expectation without a fixture', async () => {
    const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.concurrent.each(Object.entries(EXPECTED))('%s', async (name, expected) => {
    const dir = await freshDir();
    const file = join(dir, `${name}.yaml`);
    await copyFile(join(FIXTURES, `${name}.yaml`), file);
    const before = await listing(dir);

    for (const command of COMMANDS) {
      const r = await lvchain(['-c', `${name}.yaml`, ...command], { cwd: dir });
      const what = `lvchain ${command.join(' ')} on ${name}.yaml\nstderr:\n${r.stderr}`;
      expect(r.exitCode, what).toBe(1);
      expect(r.stderr, what).not.toMatch(/internal error/);
      expect(r.stderr, what).toMatch(/problem\(s\) in the config; nothing was changed\./);
      expect(r.stdout, what).not.toMatch(/Success|will perform|Apply complete/);
      const issues = reportedIssues(r.stderr);
      expect(
        issues.some((i) => matches(i, file, expected)),
        `${what}\nexpected ${file}:${expected.line}:${expected.col}: ${expected.path}: ${String(expected.message)}`,
      ).toBe(true);
      expect(await listing(dir), `${what}\nthe directory changed`).toEqual(before);
    }
  });

  it('detects a change in the directory (control: a valid config does create files)', async () => {
    const dir = await freshDir();
    await writeFile(
      join(dir, 'ok.yaml'),
      'version: 1\ndirectories:\n  lab: { path: ./store }\ndisks:\n  vm-401-disk-0: { storage: lab, size: 1MiB }\n',
    );
    const before = await listing(dir);
    const r = await lvchain(['-c', 'ok.yaml', 'apply', '--auto-approve'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const after = await listing(dir);
    expect(after).not.toEqual(before);
    expect(after.some((l) => l.startsWith('store/'))).toBe(true);
  });
});
