import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/base/errors.js';
import { loadConfigText } from '../../../src/config/load.js';
import { MAX_EXPANDED_VALUES } from '../../../src/config/yaml-limits.js';
import { formatPath } from '../../../src/config/path.js';

const FILE = '/configs/lvchain.yaml';

interface Found {
  line: number;
  col: number;
  path: string;
  message: string;
}

function issuesOf(text: string): { code: string; issues: Found[] } {
  try {
    loadConfigText(text, FILE);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return {
      code: e.code,
      issues: e.issues.map((i) => {
        expect(i.location.file).toBe(FILE);
        return { line: i.location.line, col: i.location.col, path: i.path, message: i.message };
      }),
    };
  }
  throw new Error('expected a ConfigError');
}

function onlyIssue(text: string): Found {
  const { issues } = issuesOf(text);
  expect(issues, JSON.stringify(issues, null, 2)).toHaveLength(1);
  return issues[0] as Found;
}

/** 1-based line and column of the `nth` occurrence of `needle` in `text`. */
function where(text: string, needle: string, nth = 1): { line: number; col: number } {
  let at = -1;
  for (let n = 0; n < nth; n++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`"${needle}" (${nth}) is not in the text`);
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, col: (before[before.length - 1] as string).length + 1 };
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

const BASE = lines('version: 1', 'directories:', '  lab:', '    path: ./store');

describe('loadConfigText', () => {
  it('loads a valid config, with a digest and no issues', () => {
    const text = lines(
      BASE,
      'guests:',
      '  web-401:',
      '    storage: lab',
      '    disks:',
      '      vm-401-disk-0: { size: 32MiB }',
    );
    const loaded = loadConfigText(text, FILE);
    expect(Object.keys(loaded.desired.disks)).toEqual(['vm-401-disk-0']);
    expect(loaded.desired.disks['vm-401-disk-0']?.size).toBe(32 * 1024 * 1024);
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded.warnings).toEqual([]);
  });

  it('locates warnings too: a policy that does nothing points at its name', () => {
    const text = lines('version: 1', 'policies:', '  idle:', '    timezone: UTC');
    const [w] = loadConfigText(text, FILE).warnings;
    expect(w).toMatchObject({ location: { file: FILE, ...where(text, 'idle:') }, path: 'policies.idle' });
    expect(w?.message).toMatch(/neither a schedule nor retention/);
  });

  it("a policy's check thresholds, in schedule periods, default to 1.5 and 3", () => {
    const policy = (...extra: string[]) =>
      lines(
        'version: 1',
        'policies:',
        '  p:',
        '    timezone: UTC',
        '    schedule: "0 * * * *"',
        '    retention: { last: 3 }',
        ...extra,
      );
    expect(loadConfigText(policy(), FILE).desired.policies['p']?.check).toEqual({ warn: 1.5, crit: 3 });
    expect(loadConfigText(policy('    check: { crit: 6 }'), FILE).desired.policies['p']?.check).toEqual({
      warn: 1.5,
      crit: 6,
    });
    const backwards = policy('    check: { warn: 4, crit: 2 }');
    expect(onlyIssue(backwards)).toMatchObject({
      ...where(backwards, '2 }'),
      path: 'policies.p.check.crit',
      message: 'crit (2) must not be below warn (4); a snapshot is late before it is critical',
    });
    const early = policy('    check: { warn: 0.5 }');
    expect(onlyIssue(early)).toMatchObject({
      ...where(early, '0.5'),
      path: 'policies.p.check.warn',
      message: 'must be at least 1 (one schedule period)',
    });
  });
});

describe('value errors point at the value', () => {
  it('a bad size in a block map', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0:', '    storage: lab', '    size: 32GB');
    expect(onlyIssue(text)).toMatchObject({ ...where(text, '32GB'), path: 'disks.vm-401-disk-0.size' });
  });

  it('a bad size in a flow map', () => {
    const text = lines(
      BASE,
      'guests:',
      '  web:',
      '    storage: lab',
      '    disks:',
      '      vm-1-disk-0: { size: 1.5GiB }',
    );
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '1.5GiB'),
      path: 'guests.web.disks.vm-1-disk-0.size',
      message: '"1.5GiB" is not a whole number of GiB; write 1536MiB',
    });
  });

  it('a size that is too small (a rule after the schema) points at the value, not the key', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0: { storage: lab, size: 512KiB }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '512KiB'),
      message: '512KiB is too small; disks are at least 1MiB',
    });
  });

  it('an unknown reference points at the name used', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0:', '    storage: nas', '    size: 1GiB');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'nas'),
      path: 'disks.vm-401-disk-0.storage',
      message: 'unknown storage "nas" (declared volumeGroups or directories: lab)',
    });
  });

  it('an element of a list', () => {
    const text = lines('version: 1', 'volumeGroups:', '  vg1:', '    pvs: [/dev/sda, sdb]');
    expect(onlyIssue(text)).toMatchObject({ ...where(text, 'sdb'), path: 'volumeGroups.vg1.pvs[1]' });
  });

  it('a wrong type, with the value named', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0: { storage: lab, size: 1GiB, protect: "no" }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '"no"'),
      message: 'must be true or false, not the string "no"',
    });
  });

  it('a value reached through an alias points at the alias', () => {
    const text = lines(BASE, 'x-size: &big 32GB', 'disks:', '  vm-401-disk-0: { storage: lab, size: *big }');
    const { issues } = issuesOf(text);
    expect(issues).toContainEqual(
      expect.objectContaining({ ...where(text, '*big'), path: 'disks.vm-401-disk-0.size' }),
    );
  });

  it('a rule about a whole map (retention) points at its key', () => {
    const text = lines(
      'version: 1',
      'policies:',
      '  p:',
      '    timezone: UTC',
      '    schedule: "* * * * *"',
      '    retention:',
      '      last: 40',
    );
    expect(onlyIssue(text)).toMatchObject({ ...where(text, 'retention:'), path: 'policies.p.retention' });
  });

  it('a key with no value points at the key and says what it needs', () => {
    const text = lines('version: 1', 'hosts:', '  pve1:');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'pve1'),
      path: 'hosts.pve1',
      message: 'is empty; it needs "ssh"',
    });
  });
});

describe('unknown keys point at the key', () => {
  it('at the top level, listing what is allowed there', () => {
    const text = lines('version: 1', 'storages: {}');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'storages'),
      path: 'storages',
      message:
        'unknown key "storages"; expected one of "version", "hosts", "volumeGroups", "directories", "policies", "guests", "disks"',
    });
  });

  it('in a nested map, with a "did you mean" from the keys allowed there', () => {
    const text = lines('version: 1', 'policies:', '  p:', '    timezone: UTC', '    retention: { dialy: 7 }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'dialy'),
      path: 'policies.p.retention.dialy',
      message: 'unknown key "dialy"; did you mean "daily"?',
    });
  });

  it('a misspelt required key is reported once, as the misspelling', () => {
    const text = lines(BASE, 'disks:', '  vm-1-disk-0:', '    storage: lab', '    sise: 1GiB');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'sise'),
      message: 'unknown key "sise"; did you mean "size"?',
    });
    // Without a near miss, the missing key is still reported, beside the unknown one.
    const other = lines(BASE, 'disks:', '  vm-1-disk-0:', '    storage: lab', '    capacity: 1GiB');
    expect(issuesOf(other).issues.map((i) => i.message)).toEqual([
      '"size" is required',
      'unknown key "capacity"; expected one of "storage", "size", "protect", "policy", "snapshots", "vm"',
    ]);
  });

  it('several issues come in file order', () => {
    const text = lines(
      'version: 1',
      'guests:',
      '  web:',
      '    storag: lab',
      '    disks: { a1: { sise: 1GiB } }',
    );
    expect(issuesOf(text).issues.map((i) => i.path)).toEqual([
      'guests.web.storag',
      'guests.web.disks.a1.sise',
    ]);
  });

  it('suggests only keys that are valid at that place', () => {
    // "host" is a key of volume groups, not of guests: no "did you mean" here.
    const text = lines(
      BASE,
      'guests:',
      '  web:',
      '    storage: lab',
      '    hots: pve1',
      '    disks: { vm-1-disk-0: { size: 1GiB } }',
    );
    expect(onlyIssue(text).message).toBe(
      'unknown key "hots"; expected one of "storage", "policy", "disks", "snapshots", "vm"',
    );
  });

  it('in the map form of ssh (a union)', () => {
    const text = lines('version: 1', 'hosts:', '  pve1:', '    ssh: { host: pve1, prot: 22 }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'prot'),
      path: 'hosts.pve1.ssh.prot',
      message: 'unknown key "prot"; did you mean "port"?',
    });
  });

  it('explains YAML merge keys', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0:', '    <<: { storage: lab }', '    size: 1GiB');
    expect(issuesOf(text).issues).toContainEqual(
      expect.objectContaining({
        ...where(text, '<<'),
        message: expect.stringMatching(/merge keys \("<<"\) are not supported/),
      }),
    );
  });

  it('bad names are key errors and point at the key', () => {
    const text = lines(BASE, 'disks:', '  "vm-1;reboot": { storage: lab, size: 1GiB }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '"vm-1;reboot"'),
      path: 'disks["vm-1;reboot"]',
      message: expect.stringMatching(/^"vm-1;reboot": disk names cannot contain ";"/),
    });
  });
});

describe('missing required keys point at the parent map', () => {
  it('in a block map: where its first key is', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0:', '    storage: lab');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'storage: lab'),
      path: 'disks.vm-401-disk-0.size',
      message: '"size" is required',
    });
  });

  it('in a flow map: at its brace', () => {
    const text = lines(BASE, 'disks:', '  vm-401-disk-0: { storage: lab }');
    expect(onlyIssue(text)).toMatchObject({ ...where(text, '{ storage'), path: 'disks.vm-401-disk-0.size' });
  });

  it('version, at the top of the file', () => {
    const text = lines('# my storage', 'directories: {}');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'directories'),
      path: 'version',
      message: '"version" is required; start the file with "version: 1"',
    });
  });
});

describe('YAML syntax errors', () => {
  it('are config_syntax errors with no path', () => {
    const { code, issues } = issuesOf(lines('version: 1', 'a: [1, 2'));
    expect(code).toBe('config_syntax');
    expect(issues[0]?.path).toBe('');
  });

  it('a duplicate key names the key, its path and its first line', () => {
    const text = lines('version: 1', 'hosts:', '  pve1: { ssh: a }', '  pve1: { ssh: b }');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'pve1', 2),
      path: 'hosts.pve1',
      message: 'duplicate key "pve1" (first on line 3); each key may appear only once in a map',
    });
  });

  it('an unclosed quote points at the opening quote', () => {
    const text = lines('version: 1', "x: 'abc", 'y: 2');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, "'abc"),
      message: expect.stringMatching(/never closed: add the closing '/),
    });
  });

  it('a line indented too deep points at that line, once', () => {
    const text = lines('version: 1', 'guests:', '  web:', '    storage: lab', '      disks: {}');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, 'disks'),
      message: expect.stringMatching(/^bad indentation: .*line 4/),
    });
  });

  it('a tab used for indentation', () => {
    const text = lines('version: 1', 'hosts:', '\tpve1: {}');
    expect(onlyIssue(text)).toMatchObject({ line: 3, col: 1, message: expect.stringMatching(/tab/) });
  });

  it('a list or map used as a key', () => {
    const text = lines('version: 1', '? [a, b]', ': c');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '[a, b]'),
      message: 'map keys must be plain names, not lists or maps',
    });
  });

  it('an alias to an anchor that does not exist', () => {
    const text = lines('version: 1', 'disks: *nope');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '*nope'),
      path: 'disks',
      message: expect.stringMatching(/unknown alias \*nope/),
    });
  });

  it('an alias inside the collection it names', () => {
    const text = lines('version: 1', 'x: &a [1, *a]');
    expect(onlyIssue(text)).toMatchObject({
      ...where(text, '*a'),
      path: 'x[1]',
      message: expect.stringMatching(/refers to a collection that contains it/),
    });
  });

  it('an alias bomb is refused at the alias that crosses the limit', () => {
    const text = lines(
      'version: 1',
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
    );
    const issue = onlyIssue(text);
    // Each *d stands for 11111 values: the eighth in e's list crosses the limit.
    expect(issue).toMatchObject({ ...where(text, '*d', 8), path: 'e[7]' });
    expect(issue.message).toMatch(
      new RegExp(`alias \\*d expands to \\d+ values, which takes the file past ${MAX_EXPANDED_VALUES}`),
    );
  });

  it('ordinary aliases are fine', () => {
    const text = lines(
      BASE,
      'disks:',
      '  vm-1-disk-0: &disk { storage: lab, size: 1GiB }',
      '  vm-1-disk-1: *disk',
    );
    const { desired } = loadConfigText(text, FILE);
    expect(Object.keys(desired.disks).sort()).toEqual(['vm-1-disk-0', 'vm-1-disk-1']);
    expect(desired.disks['vm-1-disk-1']?.size).toBe(1024 ** 3);
  });
});

describe('formatPath', () => {
  it.each<[(string | number)[], string]>([
    [[], ''],
    [['guests', 'web-401', 'disks', 'vm-401-disk-0', 'size'], 'guests.web-401.disks.vm-401-disk-0.size'],
    [['volumeGroups', 'vg1', 'pvs', 1], 'volumeGroups.vg1.pvs[1]'],
    [['disks', 'vm 1'], 'disks["vm 1"]'],
    [['disks', '..'], 'disks[".."]'],
    [['disks', '$(reboot)'], 'disks["$(reboot)"]'],
    [['disks', 'data.raw'], 'disks.data.raw'],
    [['disks', ''], 'disks[""]'],
  ])('%j → %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});
