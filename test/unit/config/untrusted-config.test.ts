/**
 * Config values an attacker or a careless user could write: names of Object.prototype members,
 * sizes past what qcow2 or a JavaScript number can hold, two disks sharing a layer name,
 * directory paths that are not usable directories, and ssh hosts with a port glued on. Each is an
 * ordinary name or a located error.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/base/errors.js';
import { loadConfigText } from '../../../src/config/load.js';
import { MAX_DISK_SIZE } from '../../../src/config/defaults.js';

let dir = '';
let file = '';

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'lvchain-untrusted-config-')));
  file = join(dir, 'lvchain.yaml');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (...l: string[]) => `${l.join('\n')}\n`;

function issues(text: string): { line: number; col: number; path: string; message: string }[] {
  try {
    loadConfigText(text, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => ({
      line: i.location.line,
      col: i.location.col,
      path: i.path,
      message: i.message,
    }));
  }
  throw new Error('expected a ConfigError');
}

const DIR = lines('version: 1', 'directories:', '  lab:', '    path: ./store');

describe('names of Object.prototype members', () => {
  // Records keyed by name are plain objects downstream (observed state, plans), where such a
  // name finds the prototype's member: a disk named hasOwnProperty crashed plan.
  it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'])(
    '%s is refused where it stands, as a name and as a reference',
    (name) => {
      const text = lines(
        'version: 1',
        'directories:',
        `  ${name}:`,
        '    path: ./store',
        'volumeGroups:',
        '  vg1:',
        `    host: ${name}`,
        'disks:',
        `  ${name}:`,
        '    storage: lab',
        '    size: 1MiB',
        '  vm-401-disk-0:',
        `    storage: ${name}`,
        `    policy: ${name}`,
        '    size: 1MiB',
        `    snapshots: { ${name}: {} }`,
      );
      const reserved = `cannot be "${name}", which every JavaScript object has as a member; choose another name`;
      const found = issues(text);
      for (const [line, col, path] of [
        [3, 3, 'directories'],
        [7, 11, 'volumeGroups.vg1.host'],
        [9, 3, 'disks'],
        [13, 14, 'disks.vm-401-disk-0.storage'],
        [14, 13, 'disks.vm-401-disk-0.policy'],
        [16, 18, 'disks.vm-401-disk-0.snapshots'],
      ] as const) {
        expect(found, JSON.stringify(found, null, 2)).toContainEqual({
          line,
          col,
          path: expect.stringMatching(new RegExp(`^${path.replace(/\./g, '\\.')}`)),
          message: expect.stringContaining(reserved),
        });
      }
    },
  );

  it('lookups in the loaded config find only declared names', () => {
    const { desired } = loadConfigText(
      lines(DIR, 'disks:', '  vm-401-disk-0: { storage: lab, size: 1MiB }'),
      file,
    );
    for (const records of [desired.hosts, desired.storages, desired.policies, desired.guests, desired.disks])
      for (const name of ['constructor', 'toString', 'hasOwnProperty']) expect(records[name]).toBeUndefined();
  });

  it('__proto__ as a key is refused where it stands, in every map', () => {
    for (const [text, path] of [
      [lines(DIR, 'disks:', '  __proto__: { storage: lab, size: 1MiB }'), 'disks'],
      [lines('version: 1', 'directories:', '  __proto__: { path: ./s }'), 'directories'],
      [
        lines(DIR, 'disks:', '  vm-1-disk-0: { storage: lab, size: 1MiB, snapshots: { __proto__: {} } }'),
        'disks.vm-1-disk-0.snapshots',
      ],
      [lines('__proto__: 1', 'version: 1'), ''],
    ] as const) {
      const found = issues(text);
      expect(found, text).toHaveLength(1);
      expect(found[0]?.path).toBe(path);
      expect(found[0]?.message).toMatch(/"__proto__" cannot be a name or key/);
      expect(text.split('\n')[(found[0]?.line ?? 0) - 1]?.slice((found[0]?.col ?? 0) - 1)).toMatch(
        /^__proto__/,
      );
    }
  });
});

describe('sizes', () => {
  it.each(['9999999999999999999999B', '1000000PiB', '8PiB', '8192TiB'])(
    'reserve %s is refused, not read as 0',
    (r) => {
      const text = lines('version: 1', 'directories:', '  lab:', '    path: ./store', `    reserve: ${r}`);
      expect(issues(text)).toEqual([
        {
          line: 5,
          col: 14,
          path: 'directories.lab.reserve',
          message: `"${r}" is too large; sizes must be below 8PiB`,
        },
      ]);
    },
  );

  it('a reserve just below 8PiB is kept as bytes', () => {
    const text = lines('version: 1', 'directories:', '  lab:', '    path: ./store', '    reserve: 8191TiB');
    expect(loadConfigText(text, file).desired.storages.lab?.reserve).toEqual({
      kind: 'bytes',
      value: 8191 * 1024 ** 4,
    });
  });

  it('disks up to 4PiB, the qcow2 limit with lvchain options, are accepted; beyond, refused at the value', () => {
    const at = (size: string) =>
      lines(DIR, 'disks:', '  vm-401-disk-0:', '    storage: lab', `    size: ${size}`);
    expect(loadConfigText(at('4PiB'), file).desired.disks['vm-401-disk-0']?.size).toBe(MAX_DISK_SIZE);
    for (const size of ['4097TiB', '7PiB', '8191TiB']) {
      expect(issues(at(size))).toEqual([
        {
          line: 9,
          col: 11,
          path: 'disks.vm-401-disk-0.size',
          message: expect.stringMatching(/^\d+[TP]iB is too large; .*at most 4PiB$/),
        },
      ]);
    }
  });
});

describe('layer names shared by two disks', () => {
  const pair = (storage: string, a: string, snapA: string, b: string, snapB: string) =>
    lines(
      storage,
      'disks:',
      `  ${a}:`,
      '    storage: s',
      '    size: 1MiB',
      `    snapshots: { ${snapA}: {} }`,
      `  ${b}:`,
      '    storage: s',
      '    size: 1MiB',
      `    snapshots: { ${snapB}: {} }`,
    );
  const dirStorage = lines('version: 1', 'directories:', '  s:', '    path: ./store');
  const vgStorage = lines('version: 1', 'volumeGroups:', '  s: {}');

  it("directory: snap-q-vm-900-b-vm-900-a.qcow2 would be two disks' snapshot; both disks are named", () => {
    const found = issues(pair(dirStorage, 'vm-900-a', 'q-vm-900-b', 'vm-900-b-vm-900-a', 'q'));
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toMatch(/images\/900\/snap-q-vm-900-b-vm-900-a\.qcow2 on storage "s"/);
    expect(found[0]?.message).toMatch(/disk "vm-900-a".*disk "vm-900-b-vm-900-a"/);
  });

  it('LVM: snap_a_b_c.qcow2 would be snapshot "b_c" of disk "a" and snapshot "c" of disk "a_b"', () => {
    const found = issues(pair(vgStorage, 'aa', 'b_c', 'aa_b', 'c'));
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toMatch(/^disks\.aa(_b)?\.snapshots\./);
    expect(found[0]?.message).toMatch(/snap_aa_b_c\.qcow2 on storage "s"/);
    expect(found[0]?.message).toMatch(/disk "aa".*disk "aa_b"|disk "aa_b".*disk "aa"/);
  });

  it('the same names on two storages, or in different VMID folders, are fine', () => {
    const twoStorages = lines(
      'version: 1',
      'volumeGroups:',
      '  s: {}',
      '  t: {}',
      'disks:',
      '  aa: { storage: s, size: 1MiB, snapshots: { b_c: {} } }',
      '  aa_b: { storage: t, size: 1MiB, snapshots: { c: {} } }',
    );
    expect(Object.keys(loadConfigText(twoStorages, file).desired.disks)).toEqual(['aa', 'aa_b']);
    const folders = pair(dirStorage, 'vm-900-a', 'q-vm-901-b', 'vm-901-b-vm-900-a', 'q');
    expect(Object.keys(loadConfigText(folders, file).desired.disks)).toHaveLength(2);
  });
});

describe('directory paths, checked on this machine', () => {
  const withPath = (path: string) =>
    lines('version: 1', 'directories:', '  lab:', `    path: ${JSON.stringify(path)}`);
  const only = (path: string) => {
    const found = issues(withPath(path));
    expect(found, path).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: 4, col: 11, path: 'directories.lab.path' });
    return found[0]?.message ?? '';
  };

  it('a file, a device, a dangling symlink, a symlink to a file, a path through a file', async () => {
    await writeFile(join(dir, 'a-file'), 'x');
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
    await symlink(join(dir, 'a-file'), join(dir, 'to-file'));
    expect(only(join(dir, 'a-file'))).toBe(
      `${join(dir, 'a-file')} is a file; it must be a directory (or not exist yet)`,
    );
    expect(only('/dev/null')).toBe('/dev/null is a device; it must be a directory (or not exist yet)');
    expect(only(join(dir, 'dangling'))).toBe(
      `${join(dir, 'dangling')} is a symlink to ${join(dir, 'nowhere')}, which does not exist`,
    );
    expect(only(join(dir, 'to-file'))).toMatch(/to-file is a file; it must be a directory/);
    expect(only(join(dir, 'a-file', 'store'))).toBe(
      `${join(dir, 'a-file')} is a file, so ${join(dir, 'a-file', 'store')} cannot be a directory`,
    );
  });

  it('system directories, also through a symlink; their data subdirectories are fine', async () => {
    await symlink('/etc', join(dir, 'to-etc'));
    expect(only('/')).toMatch(/^\/ is a system directory/);
    expect(only('/etc')).toMatch(/^\/etc is in the system directory \/etc/);
    expect(only('/usr/local/images')).toMatch(/is in the system directory \/usr/);
    expect(only('/var')).toMatch(/^\/var is a system directory/);
    expect(only(join(dir, 'to-etc', 'x'))).toBe(
      `${join(dir, 'to-etc', 'x')} (/etc/x) is in the system directory /etc; put the storage on a data file system, e.g. /srv/lvchain or /var/lib/vz`,
    );
    for (const ok of ['/var/lib/vz', '/srv/lvchain', join(dir, 'store')])
      expect(loadConfigText(withPath(ok), file).desired.storages.lab).toMatchObject({ path: ok });
  });

  it('longer than PATH_MAX allows room for, or with a name longer than NAME_MAX', () => {
    expect(only(`/srv/${'d/'.repeat(1800)}x`)).toMatch(/is 3606 bytes long; .*at most 3583 bytes/);
    expect(only(`/srv/${'n'.repeat(256)}`)).toMatch(/is 256 bytes; file systems allow 255/);
  });

  it('two storages on one path, through a symlink, or one inside another, name both', async () => {
    await mkdir(join(dir, 'real-store'));
    await symlink(join(dir, 'real-store'), join(dir, 'link-store'));
    const two = (a: string, b: string) =>
      lines(
        'version: 1',
        'directories:',
        `  one: { path: ${JSON.stringify(a)} }`,
        `  two: { path: ${JSON.stringify(b)} }`,
      );
    const found = (a: string, b: string) => {
      const f = issues(two(a, b));
      expect(f).toHaveLength(1);
      expect(f[0]).toMatchObject({ line: 4, path: 'directories.two.path' });
      return f[0]?.message;
    };
    expect(found('./real-store', './link-store')).toBe(
      `${join(dir, 'real-store')} is the same path as directory "one"; two storages must not share files, so give each its own directory`,
    );
    expect(found('./real-store', './link-store/images')).toMatch(
      /real-store\/images is inside directory "one"/,
    );
    expect(found('./real-store/images', './link-store')).toMatch(/real-store is a parent of directory "one"/);
    expect(Object.keys(loadConfigText(two('./real-store', './real-store2'), file).desired.storages)).toEqual([
      'one',
      'two',
    ]);
  });
});

describe('ssh hosts', () => {
  const host = (ssh: string) => lines('version: 1', 'hosts:', '  pve1:', `    ssh: ${ssh}`);

  it('a port glued to the host gets a hint to use port:', () => {
    expect(issues(host('root@pve1:22'))).toEqual([
      {
        line: 4,
        col: 10,
        path: 'hosts.pve1.ssh',
        message:
          '"root@pve1:22" is not [user@]host: ":22" looks like a port; write ssh as a map with host: pve1 and port: 22',
      },
    ]);
    expect(issues(host('{ host: "pve1:2222" }'))[0]).toMatchObject({
      path: 'hosts.pve1.ssh.host',
      message:
        '"pve1:2222" is not a host name or address: ":2222" looks like a port; write host: pve1 and port: 2222',
    });
  });

  it('IPv6 addresses keep their colons', () => {
    for (const ssh of ['root@fe80::1', '"::1"', '{ host: "2001:db8::22", port: 22 }'])
      expect(loadConfigText(host(ssh), file).desired.hosts.pve1?.ssh.host).toMatch(/::/);
  });

  it('identityFile and knownHostsFile cannot hold NUL or line breaks', () => {
    for (const key of ['identityFile', 'knownHostsFile']) {
      const found = issues(host(`{ host: pve1, ${key}: "/root/.ssh/a\\0b" }`));
      expect(found).toEqual([
        expect.objectContaining({
          line: 4,
          path: `hosts.pve1.ssh.${key}`,
          message: expect.stringMatching(/must not contain control characters such as NUL/),
        }),
      ]);
    }
  });
});

describe('nesting', () => {
  it('flow collections nested past the limit are refused at the same place, whatever the depth', () => {
    for (const depth of [33, 1000, 100_000]) {
      const text = `version: 1\ndisks: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
      expect(issues(text)).toEqual([
        {
          line: 2,
          col: 40,
          path: '',
          message: 'lists or maps are nested more than 32 levels deep here; an lvchain config needs 6',
        },
      ]);
    }
  });

  it('block maps nested past the limit are refused with a location', () => {
    const text = `version: 1\n${Array.from({ length: 40 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
    expect(issues(text)).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/nested more than 32 levels deep/) }),
    ]);
  });
});
