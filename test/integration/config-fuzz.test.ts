/**
 * Config fuzzer: every field of a valid config that uses every
 * key of the schema is replaced by hostile values (prototype names, huge, negative and
 * fractional numbers, wrong types, empty and very long strings, control characters, NUL,
 * path traversal, deep nesting), every map key is renamed to hostile names, duplicated,
 * or joined by an unknown key. Each case must either load with no entry silently dropped
 * and every reference resolved, or be refused by a ConfigError whose every issue names
 * its file:line:col and config path. A sample runs through the real CLI (validate, plan),
 * which must not print an internal error or a stack trace, nor change any file.
 */
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Document, Scalar, isMap, isScalar, parseDocument } from 'yaml';
import type { Pair } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/base/errors.js';
import { loadConfigText } from '../../src/config/load.js';
import type { Desired } from '../../src/model/desired.js';
import { lvchain } from '../helpers/cli.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';

type Segment = string | number;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A config that sets every key the schema knows, so every field gets mutated. */
const FULL: Json = {
  version: 1,
  hosts: {
    pve1: {
      ssh: {
        host: 'pve1.example.com',
        user: 'root',
        port: 22,
        identityFile: '/root/.ssh/id_ed25519',
        knownHosts: 'strict',
        knownHostsFile: '/root/.ssh/known_hosts',
      },
    },
    pve2: { ssh: 'root@pve2.example.com' },
  },
  volumeGroups: { vg_san1: { host: 'pve1', pvs: ['/dev/sdb'], reserve: '5%', wipe: 'none' } },
  directories: { lab: { path: './store', reserve: '1GiB' } },
  policies: {
    hourly: {
      timezone: 'UTC',
      schedule: '0 * * * *',
      retention: { last: 3, within: '2h', hourly: 4, daily: 2, weekly: 1, monthly: 1, yearly: 1 },
      maxChainDepth: 32,
      maxDeletesPerRun: 20,
      check: { warn: 1.5, crit: 3 },
    },
  },
  guests: {
    'web-401': {
      storage: 'lab',
      policy: 'hourly',
      disks: { 'vm-401-disk-0': { size: '1MiB', protect: false } },
      snapshots: { 'pre-upgrade': { description: 'before 9.1' } },
    },
  },
  disks: {
    'vm-402-disk-0': {
      storage: 'lab',
      size: '1MiB',
      protect: true,
      policy: 'hourly',
      snapshots: { base: null },
    },
  },
};

/** The directory-only part, which `plan` can run against without any host. */
const LOCAL: Json = Object.fromEntries(
  Object.entries(FULL as Record<string, Json>).filter(([k]) => k !== 'hosts' && k !== 'volumeGroups'),
);

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  'prototype',
];

function nested(depth: number): Json {
  let v: Json = 'x';
  for (let n = 0; n < depth; n++) v = n % 2 === 0 ? [v] : { k: v };
  return v;
}

/** Values that replace a field. */
const HOSTILE_VALUES: Json[] = [
  ...PROTOTYPE_NAMES,
  0,
  -1,
  1.5,
  -0.5,
  2 ** 53,
  1e308,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  null,
  [],
  {},
  ['a', 1],
  { a: 1 },
  '',
  ' ',
  'a\0b',
  '\x1b[2J',
  'line\nbreak',
  'x'.repeat(5000),
  '../../../../etc/passwd',
  '/',
  '/etc',
  '7PiB',
  '4PiB',
  '9999999999999999999999B',
  '1000000PiB',
  '-1GiB',
  '0B',
  '1.5GiB',
  '100%',
  'ümlaut',
  'root@host:22',
  '-oProxyCommand=x',
  nested(40),
];

/** Names that replace a map key. */
const HOSTILE_KEYS = [
  ...PROTOTYPE_NAMES,
  '',
  ' ',
  '../x',
  'a/b',
  '-x',
  'x\0y',
  'a\nb',
  'k'.repeat(300),
  'snap_x',
  'del-x',
  '0',
];

interface Case {
  name: string;
  text: string;
}

function walk(value: Json, path: Segment[], out: { path: Segment[]; isMap: boolean }[]): void {
  if (value === null || typeof value !== 'object') return;
  out.push({ path, isMap: !Array.isArray(value) });
  const entries: [Segment, Json][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value);
  for (const [k, v] of entries) {
    out.push({ path: [...path, k], isMap: false });
    walk(v, [...path, k], out);
  }
}

/** Every field of `base` replaced, every map key renamed, duplicated or joined by an unknown key. */
function generateCases(base: Json, label: string): Case[] {
  const places: { path: Segment[]; isMap: boolean }[] = [];
  walk(base, [], places);
  const fields = places.filter((p) => !p.isMap && p.path.length > 0);
  const maps = places.filter((p) => p.isMap);
  const cases: Case[] = [];
  const text = (doc: Document) => doc.toString({ lineWidth: 0 });
  for (const { path } of fields) {
    for (const [n, value] of HOSTILE_VALUES.entries()) {
      const doc = new Document(base);
      doc.setIn(path, doc.createNode(value));
      cases.push({ name: `${label} ${path.join('.')} = value#${n}`, text: text(doc) });
    }
  }
  for (const { path } of maps) {
    const keys = Object.keys(path.reduce<Json>((v, k) => (v as Record<string, Json>)[k] as Json, base) ?? {});
    for (const key of keys) {
      for (const hostile of HOSTILE_KEYS) {
        const doc = new Document(base);
        const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
        if (!isMap(map)) continue;
        const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair<Scalar>;
        pair.key = new Scalar(hostile);
        cases.push({
          name: `${label} ${[...path, key].join('.')} renamed ${JSON.stringify(hostile)}`,
          text: text(doc),
        });
      }
      const doc = new Document(base);
      const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
      if (!isMap(map)) continue;
      const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair;
      map.items.push(doc.createPair(key, pair.value));
      cases.push({ name: `${label} ${[...path, key].join('.')} duplicated`, text: text(doc) });
    }
    const doc = new Document(base);
    const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
    if (isMap(map)) {
      map.items.push(doc.createPair('unexpected', 1));
      cases.push({ name: `${label} ${path.join('.') || '(top)'} + unknown key`, text: text(doc) });
    }
  }
  return cases;
}

// ── Checking one case in process ─────────────────────────────────────────────────────

type Outcome = { kind: 'accepted'; desired: Desired } | { kind: 'rejected'; issues: number };

const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Problems with an accepted config: entries that vanished, references that resolve to nothing. */
function acceptedProblems(text: string, desired: Desired): string[] {
  const input = record(parseDocument(text).toJS());
  const problems: string[] = [];
  const sameKeys = (what: string, a: string[], b: string[]) => {
    if ([...a].sort().join('\0') !== [...b].sort().join('\0'))
      problems.push(`${what}: written ${JSON.stringify(a)}, loaded ${JSON.stringify(b)}`);
  };
  sameKeys('hosts', Object.keys(record(input.hosts)), Object.keys(desired.hosts));
  sameKeys(
    'storages',
    [...Object.keys(record(input.volumeGroups)), ...Object.keys(record(input.directories))],
    Object.keys(desired.storages),
  );
  sameKeys('policies', Object.keys(record(input.policies)), Object.keys(desired.policies));
  sameKeys('guests', Object.keys(record(input.guests)), Object.keys(desired.guests));
  const guestDisks = Object.values(record(input.guests)).flatMap((g) => Object.keys(record(record(g).disks)));
  sameKeys('disks', [...guestDisks, ...Object.keys(record(input.disks))], Object.keys(desired.disks));
  for (const disk of Object.values(desired.disks)) {
    if (!Object.hasOwn(desired.storages, disk.storage))
      problems.push(`disk ${disk.name}: storage "${disk.storage}" is not declared`);
    if (disk.policy !== undefined && !Object.hasOwn(desired.policies, disk.policy))
      problems.push(`disk ${disk.name}: policy "${disk.policy}" is not declared`);
    if (!(disk.size >= 1024 * 1024 && disk.size <= 4 * 1024 ** 5))
      problems.push(`disk ${disk.name}: size ${disk.size}`);
    const owner =
      disk.guest !== undefined
        ? record(record(input.guests)[disk.guest])
        : record(record(input.disks)[disk.name]);
    sameKeys(`pinned of ${disk.name}`, Object.keys(record(owner.snapshots)), disk.pinned);
  }
  for (const storage of Object.values(desired.storages)) {
    const written = record(
      record(storage.kind === 'dir' ? input.directories : input.volumeGroups)[storage.name],
    );
    const reserve = written.reserve;
    if (!Number.isFinite(storage.reserve.value) || storage.reserve.value < 0)
      problems.push(`storage ${storage.name}: reserve ${storage.reserve.value}`);
    if (typeof reserve === 'string' && /[1-9]/.test(reserve) && storage.reserve.value === 0)
      problems.push(`storage ${storage.name}: reserve ${reserve} became 0`);
  }
  return problems;
}

/** Loads one case; throws (failing the test) on anything but a well-located ConfigError. */
function check(c: Case, file: string): Outcome {
  let desired: Desired;
  try {
    desired = loadConfigText(c.text, file).desired;
  } catch (e) {
    if (!(e instanceof ConfigError)) {
      throw new Error(
        `${c.name}: not a ConfigError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n${c.text}`,
      );
    }
    const lines = c.text.split('\n').length;
    expect(e.issues.length, c.name).toBeGreaterThan(0);
    for (const i of e.issues) {
      const what = `${c.name}: ${i.location.line}:${i.location.col} ${i.path}: ${i.message}`;
      expect(i.location.file, what).toBe(file);
      expect(i.location.line, what).toBeGreaterThanOrEqual(1);
      expect(i.location.line, what).toBeLessThanOrEqual(lines);
      expect(i.location.col, what).toBeGreaterThanOrEqual(1);
      expect(i.message.trim(), what).not.toBe('');
      expect(i.message, what).not.toMatch(/undefined|\[object |TypeError|RangeError|call stack|\n\s+at /);
      // Only YAML syntax errors are outside any config path.
      if (e.code !== 'config_syntax') expect(i.path, what).not.toBe('');
    }
    return { kind: 'rejected', issues: e.issues.length };
  }
  const problems = acceptedProblems(c.text, desired);
  expect(problems, `${c.name}\n${c.text}`).toEqual([]);
  return { kind: 'accepted', desired };
}

// ── The CLI sample: validate and plan, nothing changes ───────────────────────────────

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const go = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = await stat(p);
      const sum = e.isFile()
        ? createHash('sha256')
            .update(await readFile(p))
            .digest('hex')
        : '';
      out.push(`${relative(root, p)} ${s.mode} ${s.size} ${s.mtimeMs} ${sum}`);
      if (e.isDirectory()) await go(p);
    }
  };
  await go(root);
  return out.sort();
}

const temps: string[] = [];
let work = '';
const counts = { tried: 0, rejected: 0, accepted: 0, cliRuns: 0 };

beforeAll(async () => {
  work = await realpath(await mkdtemp(join(tmpdir(), 'lvchain-config-fuzz-')));
  temps.push(work);
});

afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe('config fuzzer', () => {
  const full = generateCases(FULL, 'full');
  const local = generateCases(LOCAL, 'local');

  it('covers every field and key of the schema with at least 300 cases', () => {
    expect(full.length).toBeGreaterThanOrEqual(300);
    for (const key of [
      'identityFile',
      'knownHostsFile',
      'knownHosts',
      'port',
      'user',
      'pvs',
      'wipe',
      'reserve',
      'path',
      'timezone',
      'schedule',
      'within',
      'yearly',
      'maxChainDepth',
      'maxDeletesPerRun',
      'warn',
      'crit',
      'description',
      'protect',
      'size',
      'storage',
      'policy',
    ])
      expect(full.some((c) => c.name.includes(`.${key} = `))).toBe(true);
  });

  it('every case loads completely or is refused with a location (in process)', () => {
    const file = join(work, 'lvchain.yaml');
    for (const c of full) {
      const outcome = check(c, file);
      counts.tried++;
      counts[outcome.kind]++;
    }
    // Both outcomes occur: the fuzzer is not refused wholesale by one broken base.
    expect(counts.accepted).toBeGreaterThan(20);
    expect(counts.rejected).toBeGreaterThan(300);
  }, 300_000);

  it('a sample runs through the real CLI: validate and plan give no internal error and change nothing', async () => {
    // About 30 directory-only cases spread over all fields, plus ones once accepted by mistake.
    const stride = Math.ceil(local.length / 30);
    const value = (v: Json) => `value#${HOSTILE_VALUES.indexOf(v)}`;
    const reported = [
      `.storage = ${value('constructor')}`,
      `.policy = ${value('constructor')}`,
      `directories.lab.reserve = ${value('9999999999999999999999B')}`,
      `directories.lab.reserve = ${value('1000000PiB')}`,
      `directories.lab.path = ${value('/')}`,
      `directories.lab.path = ${value('/etc')}`,
      `.size = ${value('7PiB')}`,
      'local disks renamed "__proto__"',
    ];
    const sample = local.filter((c, n) => n % stride === 0 || reported.some((r) => c.name.endsWith(r)));
    expect(sample.length).toBeGreaterThanOrEqual(30);
    const runOne = async (c: Case, n: number) => {
      const root = join(work, `cli-${n}`);
      await mkdir(join(root, 'store'), { recursive: true });
      await mkdir(join(root, 'sentinel'));
      await writeFile(join(root, 'sentinel', 'victim'), 'must stay as it is\n');
      await writeFile(join(root, 'lvchain.yaml'), c.text);
      const before = await tree(root);
      const loaded = (() => {
        try {
          loadConfigText(c.text, join(root, 'lvchain.yaml'));
          return true;
        } catch {
          return false;
        }
      })();
      for (const command of [['validate'], ['plan']]) {
        const r = await lvchain(['-c', 'lvchain.yaml', ...command], { cwd: root });
        const what = `${c.name}: lvchain ${command.join(' ')} → ${r.exitCode}\n${r.stderr}\n${r.stdout}`;
        expect(r.stderr, what).not.toMatch(/internal error|\n\s+at .*\(.*:\d+:\d+\)/);
        if (loaded) expect(r.exitCode, what).toBe(0);
        else {
          expect(r.exitCode, what).toBe(1);
          expect(r.stderr, what).toMatch(/lvchain\.yaml:\d+:\d+: /);
          expect(r.stderr, what).toMatch(/nothing was changed/);
        }
        counts.cliRuns++;
      }
      expect(await tree(root), `${c.name}: files changed`).toEqual(before);
    };
    const queue = sample.map((c, n) => () => runOne(c, n));
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await job();
      }),
    );
  }, 300_000);

  it('writes its counts to docs/reliability.md', () => {
    expect(counts.tried).toBeGreaterThan(0);
    expect(counts.cliRuns).toBeGreaterThan(0);
    writeSection(
      'config-fuzz',
      [
        '## Config fuzzer',
        '',
        generatedBy('test/integration/config-fuzz.test.ts'),
        '',
        'Every field of a config that sets every schema key, replaced by hostile values; every map',
        'key renamed to hostile names, duplicated, or joined by an unknown key.',
        '',
        '| tried | refused, each issue with file:line:col and config path | accepted, nothing dropped | CLI runs (validate, plan), no internal error, no file changed |',
        '|---:|---:|---:|---:|',
        `| ${counts.tried} | ${counts.rejected} | ${counts.accepted} | ${counts.cliRuns} |`,
      ].join('\n'),
    );
  });
});
