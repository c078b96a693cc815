/**
 * A saved plan is input, not instructions. Every hostile plan here is a
 * genuine `plan --out` file (real CLI, real qemu-img, a directory storage) edited the way an
 * attacker with write access to a CI artifact could. Each must be refused, naming what is
 * wrong, with nothing changed in the storage or in a sentinel directory outside it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';
import type { Plan, ResourceChange } from '../../src/model/plan.js';
import { TRASH_DIR } from '../../src/storage/dir/layout.js';

const D0 = 'vm-100-disk-0';
const D1 = 'vm-100-disk-1';
const GONE = 'vm-101-disk-0';
const NEW = 'vm-102-disk-0';
const MiB = 2 ** 20;

/** Every file under `dir` (but `skip`), with its content hash: names, contents and sidecars. */
async function treeDigest(dir: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      // Removed layers pass through the trash while a detached rm frees them.
      if (p === skip || e.name === TRASH_DIR) continue;
      if (e.isDirectory()) {
        out.push(`${relative(dir, p)}/`);
        await walk(p);
      } else if (e.isSymbolicLink()) out.push(`${relative(dir, p)} -> link`);
      else
        out.push(
          `${relative(dir, p)} ${createHash('sha256')
            .update(await readFile(p))
            .digest('hex')}`,
        );
    }
  };
  await walk(dir);
  return out.sort();
}

const clone = (p: Plan): Plan => structuredClone(p);
const changeOf = (p: Plan, pred: (c: ResourceChange) => boolean): ResourceChange => {
  const c = p.resource_changes.find(pred);
  if (!c)
    throw new Error(
      `the genuine plan has no such change: ${JSON.stringify(p.resource_changes.map((x) => x.address))}`,
    );
  return c;
};
/** Rename every occurrence of a string inside one change (address, name, refs, meta). */
const renamed = (c: ResourceChange, from: string, to: string): ResourceChange =>
  JSON.parse(
    JSON.stringify(c).split(JSON.stringify(from).slice(1, -1)).join(JSON.stringify(to).slice(1, -1)),
  ) as ResourceChange;

interface Case {
  name: string;
  plan: Plan;
  /** Extra apply arguments. */
  args?: string[];
  /** The storage it is applied to, when not the main one. */
  mass?: boolean;
  /** What the refusal must name. */
  needle: string | RegExp;
}

let lab: DirLab;
let other: DirLab;
let g0: Plan;
let gCommit: Plan;
let gDestroy: Plan;
let gTarget: Plan;
let gOther: Plan;
/** A plan whose retention deletes more than maxDeletesPerRun, made with --allow-mass-delete. */
let gMass: Plan;
let massLab: DirLab;
const MASS_AT = '2026-01-05T13:30:00Z';
const sentinel = () => join(lab.root, 'sentinel');
const plansDir = () => join(lab.root, 'plans');

const stage2 = () =>
  lab.writeConfig({
    [D0]: { size: '3MiB', snapshots: ['s2', 's3'] },
    [D1]: { size: '2MiB', protect: true },
    [NEW]: { size: '2MiB' },
  });

beforeAll(async () => {
  lab = await DirLab.create('lvchain-hostile-plans-');
  other = await DirLab.create('lvchain-hostile-other-');
  await mkdir(sentinel());
  await mkdir(plansDir());
  await writeFile(join(sentinel(), 'victim'), 'do not touch\n');
  // Stage 1: a chain with two snapshots, a protected disk and a disk that will be undeclared.
  await lab.writeConfig({
    [D0]: { size: '2MiB', snapshots: ['s1'] },
    [D1]: { size: '2MiB', protect: true },
    [GONE]: { size: '2MiB' },
  });
  await lab.apply();
  await writePattern(lab.top(D0), 0, 64 * 1024, 0x11);
  await lab.writeConfig({
    [D0]: { size: '2MiB', snapshots: ['s1', 's2'] },
    [D1]: { size: '2MiB', protect: true },
    [GONE]: { size: '2MiB' },
  });
  await lab.apply();
  await writePattern(lab.top(D0), 128 * 1024, 64 * 1024, 0x22);
  // Stage 2, the current config: grow, a new pinned snapshot, s1 undeclared (merged away), a new
  // disk, and GONE undeclared.
  await stage2();
  const save = async (name: string, args: string[] = []): Promise<Plan> => {
    const r = await lab.run(['plan', '--out', join(plansDir(), name), ...args]);
    if (r.exitCode !== 0) throw new Error(`plan ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(await readFile(join(plansDir(), name), 'utf8')) as Plan;
  };
  g0 = await save('g0.json');
  gCommit = await save('g-commit.json', ['--merge-direction', 'commit']);
  gDestroy = await save('g-destroy.json', ['--allow-destroy']);
  gTarget = await save('g-target.json', ['--target', `disk.${NEW}`]);
  // Another config's genuine plan, for transplants: same storage name, another disk.
  await other.writeConfig({ 'vm-200-disk-0': { size: '2MiB', snapshots: ['s1'] } });
  const r = await other.run(['plan', '--out', 'other.json']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  gOther = JSON.parse(await readFile(join(other.root, 'other.json'), 'utf8')) as Plan;
  // Three hourly snapshots, then retention cut to one: two deletions, above maxDeletesPerRun.
  massLab = await DirLab.create('lvchain-hostile-mass-');
  const policy = (last: number) => ({
    policies: {
      hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last }, maxDeletesPerRun: 1 },
    },
  });
  await massLab.writeConfig({ 'vm-400-disk-0': { size: '2MiB', policy: 'hourly' } }, policy(5));
  await massLab.apply('--now', '2026-01-05T09:59:00Z');
  for (const h of ['10', '11', '12']) {
    const rec = await massLab.run(['reconcile', '--now', `2026-01-05T${h}:30:00Z`]);
    if (rec.exitCode !== 0) throw new Error(rec.stderr);
  }
  await massLab.writeConfig({ 'vm-400-disk-0': { size: '2MiB', policy: 'hourly' } }, policy(1));
  const m = await massLab.run(['plan', '--now', MASS_AT, '--allow-mass-delete', '--out', 'mass.json']);
  if (m.exitCode !== 0) throw new Error(`${m.stdout}\n${m.stderr}`);
  gMass = JSON.parse(await readFile(join(massLab.root, 'mass.json'), 'utf8')) as Plan;
  if (gMass.resource_changes.filter((c) => c.operation.op === 'delete').length < 2)
    throw new Error('the mass-delete plan deletes fewer than two snapshots');
}, 300_000);

afterAll(async () => {
  await lab?.dispose();
  await other?.dispose();
  await massLab?.dispose();
});

function corpus(): Case[] {
  const cases: Case[] = [];
  const add = (name: string, needle: Case['needle'], edit: (p: Plan) => void, base = g0, args?: string[]) => {
    const plan = clone(base);
    edit(plan);
    cases.push({ name, plan, needle, ...(args ? { args } : {}) });
  };
  const create = (p: Plan) => changeOf(p, (c) => c.operation.op === 'create');
  const grow = (p: Plan) => changeOf(p, (c) => c.operation.op === 'grow');
  const snap = (p: Plan) => changeOf(p, (c) => c.operation.op === 'snapshot');
  const del = (p: Plan) => changeOf(p, (c) => c.operation.op === 'delete');
  const destroy = (p: Plan) => changeOf(p, (c) => c.operation.op === 'destroy');
  const replace = (p: Plan, c: ResourceChange, next: ResourceChange) => {
    p.resource_changes[p.resource_changes.indexOf(c)] = next;
  };

  // Renamed disks and path traversal, in a created disk's disk, name and address together.
  const evilDisks = [
    '../../../../tmp/x/evil',
    '../../../sentinel/evil',
    `${D0}/../../../../sentinel/evil`,
    '/etc/evil',
    'evil;reboot',
    'vm-102-disk-0\nfake',
    '.',
    '..',
    '',
    'vm-999-disk-0',
    GONE,
  ];
  for (const evil of evilDisks)
    add(`created disk renamed to ${JSON.stringify(evil)}`, `disk.${evil.split('\n')[0] ?? ''}`, (p) =>
      replace(p, create(p), renamed(create(p), NEW, evil)),
    );
  add('created disk: only .disk traverses', '../../../sentinel/evil', (p) => {
    create(p).disk = '../../../sentinel/evil';
  });
  add('created disk: only .name traverses', `disk.${NEW}`, (p) => {
    create(p).name = '../../../sentinel/evil';
  });
  add('created disk: only .address traverses', 'disk.../../../sentinel/evil', (p) => {
    create(p).address = 'disk.../../../sentinel/evil';
  });
  add('created disk: declared disk of another storage name', 'storage "other"', (p) => {
    create(p).storage = 'other';
  });
  add('created disk: top meta names another disk', `disk.${NEW}`, (p) => {
    create(p).x_top_meta.disk = '../../../sentinel/evil';
  });
  add('created disk: allocate step meta traverses', `disk.${NEW}`, (p) => {
    const s = create(p).x_steps.find((x) => x.step.kind === 'allocate');
    if (s?.step.kind !== 'allocate') throw new Error('no allocate step');
    s.step.meta.disk = '../../../sentinel/evil';
  });
  for (const evil of ['../../sentinel/evil', 'S'.repeat(41), 'snap/../x', '-x'])
    add(`snapshot renamed to ${JSON.stringify(evil)}`, 'snapshot.', (p) => {
      const c = snap(p);
      c.name = evil;
      c.address = `snapshot.${c.disk}@${evil}`;
    });
  add('snapshot renamed consistently to an undeclared name', `snapshot.${D0}@s4`, (p) =>
    replace(p, snap(p), renamed(snap(p), 's3', 's4')),
  );
  add('snapshot moved to the protected disk', `snapshot.${D1}@s3`, (p) =>
    replace(p, snap(p), renamed(snap(p), D0, D1)),
  );
  add('merge moved to another disk', `snapshot.${D1}@s1`, (p) => replace(p, del(p), renamed(del(p), D0, D1)));

  // Changed operations.
  add('delete turned into destroy', `snapshot.${D0}@s1`, (p) => {
    del(p).operation = { op: 'destroy' };
  });
  add('delete turned into a disk destroy', `disk.${D0}`, (p) => {
    const c = del(p);
    c.operation = { op: 'destroy' };
    c.type = 'lvchain_disk';
    c.name = D0;
    c.address = `disk.${D0}`;
    c.action_reason = 'destroy_requested';
  });
  add('merge direction swapped in the operation', `snapshot.${D0}@s1`, (p) => {
    const op = del(p).operation;
    if (op.op !== 'delete') throw new Error('not a delete');
    op.merge = op.merge === 'merge_commit' ? 'merge_stream' : 'merge_commit';
  });
  add('merge steps of the other direction (transplanted)', `snapshot.${D0}@s1`, (p) => {
    const op = del(p).operation;
    const theirs = del(gCommit);
    if (op.op === 'delete' && theirs.operation.op === 'delete' && op.merge === theirs.operation.merge)
      throw new Error('both plans merge the same way');
    del(p).x_steps = structuredClone(theirs.x_steps);
  });
  add('whole change of the other direction (transplanted)', `snapshot.${D0}@s1`, (p) =>
    replace(p, del(p), structuredClone(del(gCommit))),
  );
  add(
    'commit plan relabelled as auto',
    `snapshot.${D0}@s1`,
    (p) => {
      p.options.merge_direction = 'auto';
    },
    gCommit,
  );
  add('snapshot kind pinned → auto', `snapshot.${D0}@s3`, (p) => {
    const op = snap(p).operation;
    if (op.op === 'snapshot') op.kind = 'auto';
  });
  add('snapshot created instant changed', `snapshot.${D0}@s3`, (p) => {
    const op = snap(p).operation;
    if (op.op === 'snapshot') op.created = '2031-06-01T00:00:00Z';
  });
  add('grow to another size', `disk.${D0}`, (p) => {
    const c = grow(p);
    const op = c.operation;
    if (op.op !== 'grow') throw new Error('not a grow');
    op.to = 64 * MiB;
    for (const s of c.x_steps) if ('virtual_size' in s.step) s.step.virtual_size = 64 * MiB;
  });
  add('grow turned into a shrink', `disk.${D0}`, (p) => {
    const c = grow(p);
    const op = c.operation;
    if (op.op !== 'grow') throw new Error('not a grow');
    op.to = MiB;
    for (const s of c.x_steps) if ('virtual_size' in s.step) s.step.virtual_size = MiB;
  });
  add('created disk size changed', `disk.${NEW}`, (p) => {
    const op = create(p).operation;
    if (op.op === 'create') op.size = 8 * MiB;
  });
  add('grow turned into a rollback', `disk.${D0}`, (p) => {
    grow(p).operation = { op: 'rollback', snap: 's2', discard: [] };
  });
  add('a rollback discarding s2 added', `disk.${D0}`, (p) => {
    const c = structuredClone(grow(p));
    c.operation = { op: 'rollback', snap: 's1', discard: ['s2'] };
    c.action_reason = 'rollback_requested';
    c.change.actions = ['delete', 'create'];
    p.resource_changes.push(c);
  });
  add('protect turned off on the protected disk', `disk.${D1}`, (p) => {
    const c = structuredClone(grow(p));
    Object.assign(c, renamed(c, D0, D1));
    c.operation = { op: 'set_protect', protect: false };
    c.action_reason = 'protect_changed';
    c.x_steps = [];
    p.resource_changes.push(c);
  });
  add('action_reason changed', `snapshot.${D0}@s1`, (p) => {
    del(p).action_reason = 'retention_expired';
  });
  add('actions changed', `disk.${NEW}`, (p) => {
    create(p).change.actions = ['update'];
  });
  add('irreversible flipped', `snapshot.${D0}@s1`, (p) => {
    del(p).irreversible = !del(p).irreversible;
  });
  add('expected shape changed', `disk.${D0}`, (p) => {
    (grow(p) as { expected_shape: unknown }).expected_shape = 'top';
  });
  add('group added', `snapshot.${D0}@s3`, (p) => {
    snap(p).group = 'guest.evil@s3';
  });
  add('policy added', `snapshot.${D0}@s3`, (p) => {
    snap(p).x_policy = 'evil';
  });

  // Transplanted changes from another config's plan.
  add(
    'another config’s plan with this one’s digests',
    'disk.vm-200-disk-0',
    (p) => {
      p.config_digest = g0.config_digest;
      p.observed_fingerprint = structuredClone(g0.observed_fingerprint);
    },
    gOther,
  );
  add('another config’s create appended', 'disk.vm-200-disk-0', (p) => {
    p.resource_changes.push(structuredClone(create(gOther)));
  });
  add('another config’s snapshot appended', 'snapshot.vm-200-disk-0@s1', (p) => {
    p.resource_changes.push(structuredClone(snap(gOther)));
  });
  add(
    'a destroy from the --allow-destroy plan appended',
    `disk.${GONE}`,
    (p) => {
      p.resource_changes.push(structuredClone(destroy(gDestroy)));
    },
    g0,
    ['--allow-destroy'],
  );

  // Destroy of a protected disk still declared, merge of a declared pinned snapshot.
  add(
    'destroy of the protected disk',
    `disk.${D1}`,
    (p) => {
      replace(p, destroy(p), renamed(destroy(p), GONE, D1));
    },
    gDestroy,
    ['--allow-destroy'],
  );
  add(
    'destroy of the protected disk, no flag',
    `disk.${D1}`,
    (p) => {
      replace(p, destroy(p), renamed(destroy(p), GONE, D1));
    },
    gDestroy,
  );
  add(
    'destroy of a declared disk',
    `disk.${D0}`,
    (p) => {
      replace(p, destroy(p), renamed(destroy(p), GONE, D0));
    },
    gDestroy,
    ['--allow-destroy'],
  );
  add('merge of declared pinned s2 instead of s1', `snapshot.${D0}@s2`, (p) =>
    replace(p, del(p), renamed(del(p), 's1', 's2')),
  );
  add('merge of declared pinned s2 as a retention expiry', `snapshot.${D0}@s2`, (p) => {
    const c = renamed(del(p), 's1', 's2');
    c.action_reason = 'retention_expired';
    replace(p, del(p), c);
  });
  add('merge of s2 added next to s1', `snapshot.${D0}@s2`, (p) => {
    p.resource_changes.push(renamed(del(p), 's1', 's2'));
  });

  // Removed guards.
  add('--allow-destroy plan applied without the flag', `disk.${GONE}`, () => undefined, gDestroy);
  add(
    'allow_destroy cleared in the file, flag given',
    `disk.${GONE}`,
    (p) => {
      p.options.allow_destroy = false;
    },
    gDestroy,
    ['--allow-destroy'],
  );
  add('allow_destroy set in the file, destroy added, no flag', `disk.${GONE}`, (p) => {
    p.options.allow_destroy = true;
    p.resource_changes.push(structuredClone(destroy(gDestroy)));
  });
  add(
    'targets removed',
    `disk.${NEW}`,
    (p) => {
      p.options.targets = [];
    },
    gTarget,
  );
  add(
    'targets changed to another disk',
    `disk.${NEW}`,
    (p) => {
      p.options.targets = [`disk.${D0}`];
    },
    gTarget,
  );
  add(
    'targeted plan with an untargeted change added',
    `disk.${D0}`,
    (p) => {
      p.resource_changes.push(structuredClone(grow(g0)));
    },
    gTarget,
  );
  const massCase = (name: string, needle: string, edit: (p: Plan) => void, args: string[]) => {
    const plan = clone(gMass);
    edit(plan);
    cases.push({ name, plan, needle, args: ['--now', MASS_AT, ...args], mass: true });
  };
  massCase(
    '--allow-mass-delete plan applied without the flag',
    'apply was not given --allow-mass-delete',
    () => undefined,
    [],
  );
  massCase(
    'allow_mass_delete cleared in the file, flag given',
    'retention refused',
    (p) => {
      p.options.allow_mass_delete = false;
    },
    ['--allow-mass-delete'],
  );
  massCase(
    'allow_mass_delete removed from the file, flag given',
    'retention refused',
    (p) => {
      delete p.options.allow_mass_delete;
    },
    ['--allow-mass-delete'],
  );
  add('a change left out of a full plan', 'leaves out change', (p) => {
    p.resource_changes.pop();
  });
  add('config digest forged', 'Saved plan is stale', (p) => {
    p.config_digest = 'forged';
  });

  // Changed instants and modes.
  const shifted = (ms: number) =>
    new Date(Date.parse(g0.timestamp) + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const [label, ms] of [
    ['10 minutes ahead', 10 * 60_000],
    ['a day ahead', 86_400_000],
    ['a year ahead', 365 * 86_400_000],
    ['10 minutes old', -10 * 60_000],
    ['a day old', -86_400_000],
    ['ten years old', -3650 * 86_400_000],
  ] as const)
    add(`instant ${label}`, 'was made for', (p) => {
      p.timestamp = shifted(ms);
    });
  add('instant in 2031', 'was made for', (p) => {
    p.timestamp = '2031-06-01T00:00:00Z';
  });
  add(
    'instant an hour ahead, with a generous --max-plan-age',
    'was made for',
    (p) => {
      p.timestamp = shifted(3_600_000);
    },
    g0,
    ['--max-plan-age', '2w'],
  );
  for (const mode of ['rollback', 'reconcile'] as const)
    add(`mode ${mode}`, `mode "${mode}"`, (p) => {
      p.options.mode = mode;
    });

  // Changed step kinds, refs and order.
  add('steps reversed', `snapshot.${D0}@s1`, (p) => {
    del(p).x_steps.reverse();
  });
  add('a step removed', `snapshot.${D0}@s1`, (p) => {
    del(p).x_steps.splice(1, 1);
  });
  add('all steps removed', `disk.${NEW}`, (p) => {
    create(p).x_steps = [];
  });
  add('a step duplicated', `disk.${NEW}`, (p) => {
    const c = create(p);
    c.x_steps.push(structuredClone(c.x_steps[c.x_steps.length - 1] as (typeof c.x_steps)[number]));
  });
  add('a remove of s2 appended to the merge', `snapshot.${D0}@s1`, (p) => {
    const c = del(p);
    c.x_steps.push({
      step: { kind: 'remove', layer: { role: 'snapshot', snap: 's2' }, wipe: false },
      description: 'remove',
      commands: [],
    });
  });
  add('a ref changed from snapshot to top', `snapshot.${D0}@s1`, (p) => {
    const s = del(p).x_steps.find((x) => x.step.kind === 'remove');
    if (s?.step.kind !== 'remove') throw new Error('no remove step');
    s.step.layer = { role: 'top' };
  });
  add('remove turned into a wiping remove', `snapshot.${D0}@s1`, (p) => {
    const s = del(p).x_steps.find((x) => x.step.kind === 'remove');
    if (s?.step.kind !== 'remove') throw new Error('no remove step');
    s.step.wipe = true;
  });
  add('a set_meta purpose changed', `snapshot.${D0}@s3`, (p) => {
    const s = snap(p).x_steps.find((x) => x.step.kind === 'set_meta');
    if (s?.step.kind !== 'set_meta') throw new Error('no set_meta step');
    s.step.purpose = s.step.purpose === 'finish' ? 'update' : 'finish';
  });
  add('format gets a backing', `disk.${NEW}`, (p) => {
    const s = create(p).x_steps.find((x) => x.step.kind === 'format');
    if (s?.step.kind !== 'format') throw new Error('no format step');
    s.step.backing = { role: 'snapshot', snap: 's2' };
  });
  add('create_vg step smuggled into a disk change', `disk.${NEW}`, (p) => {
    create(p).x_steps.unshift({
      step: { kind: 'create_vg', devices: ['/dev/sda'] },
      description: 'x',
      commands: [],
    });
  });

  // Duplicated and reordered changes.
  add('create duplicated', `disk.${NEW}`, (p) => {
    p.resource_changes.push(structuredClone(create(p)));
  });
  add('merge duplicated', `snapshot.${D0}@s1`, (p) => {
    p.resource_changes.push(structuredClone(del(p)));
  });
  add('changes reversed', 'out of place', (p) => {
    p.resource_changes.reverse();
  });
  add('a disk’s changes swapped', 'out of place', (p) => {
    const i = p.resource_changes.indexOf(snap(p));
    const j = p.resource_changes.indexOf(del(p));
    [p.resource_changes[i], p.resource_changes[j]] = [del(p), snap(p)];
  });

  // Undeclared storages.
  for (const s of ['other', '../evil', 'constructor', '__proto__'])
    add(`change on storage ${JSON.stringify(s)}`, `storage ${JSON.stringify(s)}`, (p) => {
      create(p).storage = s;
    });
  add('fingerprint with an undeclared storage', '"evil"', (p) => {
    p.observed_fingerprint.storages.evil = { digest: 'x', items: [] };
  });
  add('fingerprint storage renamed to a path', '"../../sentinel"', (p) => {
    const fp = p.observed_fingerprint.storages;
    fp['../../sentinel'] = fp.lab as { digest: string; items: string[] };
    delete fp.lab;
  });
  return cases;
}

describe('hostile saved plans', () => {
  it('each of at least 60 edited genuine plans is refused, naming the change, with nothing changed', async () => {
    const cases = corpus();
    expect(cases.length).toBeGreaterThanOrEqual(60);
    const digests = async () => [
      ...(await treeDigest(lab.root, plansDir())),
      ...(await treeDigest(massLab.root, join(massLab.root, 'plans'))),
    ];
    await mkdir(join(massLab.root, 'plans'));
    const before = await digests();
    const results: { name: string; refused: boolean; named: boolean; contained: boolean; output: string }[] =
      [];
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3);
      const runs = await Promise.all(
        batch.map(async (c, k) => {
          const file = join(c.mass ? join(massLab.root, 'plans') : plansDir(), `case-${i + k}.json`);
          await writeFile(file, JSON.stringify(c.plan, null, 2));
          return (c.mass ? massLab : lab).run(['apply', file, ...(c.args ?? [])]);
        }),
      );
      const after = await digests();
      const contained =
        JSON.stringify(after) === JSON.stringify(before) &&
        !existsSync(resolve(lab.diskDir(NEW), '../../../../tmp/x')) &&
        !existsSync('/etc/evil.qcow2');
      for (const [k, c] of batch.entries()) {
        const r = runs[k] as { exitCode: number; stdout: string; stderr: string };
        const output = `${r.stdout}\n${r.stderr}`;
        const named = typeof c.needle === 'string' ? r.stderr.includes(c.needle) : c.needle.test(r.stderr);
        results.push({ name: c.name, refused: r.exitCode === 1, named, contained, output });
      }
    }
    const bad = results.filter((r) => !r.refused || !r.named || !r.contained);
    expect(
      bad.map(
        (r) => `${r.name}: refused=${r.refused} named=${r.named} contained=${r.contained}\n${r.output}`,
      ),
    ).toEqual([]);
    expect(await readFile(join(sentinel(), 'victim'), 'utf8')).toBe('do not touch\n');
    writeSection(
      'hostile-plans',
      [
        '## Hostile saved plans',
        '',
        generatedBy('test/integration/hostile-plans.test.ts'),
        '',
        'Genuine `plan --out` files on a directory storage (real qemu-img), edited as an attacker with',
        'write access to the CI artifact could: traversal and renamed disks, changed operations and',
        'steps, transplanted changes, destroys of protected disks, merges of pinned snapshots, removed',
        'guards, changed instants, duplicated changes, undeclared storages. Contained means that the',
        'storage and a sentinel directory beside it are byte-for-byte unchanged.',
        '',
        '| tried | refused | contained |',
        '| ----: | ------: | --------: |',
        `| ${results.length} | ${results.filter((r) => r.refused).length} | ${results.filter((r) => r.contained).length} |`,
      ].join('\n'),
    );
  }, 600_000);

  it('apply --now and reconcile --now ahead of the clock are refused, with nothing changed', async () => {
    const before = await treeDigest(lab.root, plansDir());
    for (const args of [
      ['apply', '--auto-approve', '--now', '2031-06-01T00:00:00Z'],
      ['reconcile', '--now', '2031-06-01T00:00:00Z'],
      ['apply', '--now', '2031-06-01T00:00:00Z', join(plansDir(), 'g0.json')],
    ]) {
      const r = await lab.run(args);
      expect(r.exitCode, r.stdout).toBe(1);
      expect(r.stderr).toContain('--now 2031-06-01T00:00:00Z is ahead of this machine');
    }
    expect(await treeDigest(lab.root, plansDir())).toEqual(before);
  });

  it('the genuine plans still apply, and the data reads back', async () => {
    const s2 = await viewDigest(lab.snap(D0, 's2'));
    const expected = new ExpectedDisk(2 * MiB);
    expected.write(0, 64 * 1024, 0x11);
    expected.write(128 * 1024, 64 * 1024, 0x22);
    expected.grow(3 * MiB);
    const r = await lab.run(['apply', join(plansDir(), 'g0.json')]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(existsSync(lab.snap(D0, 's1'))).toBe(false);
    expect(existsSync(lab.top(NEW))).toBe(true);
    expect(await viewDigest(lab.snap(D0, 's2'))).toBe(s2);
    expect(await viewDigest(lab.top(D0))).toBe(expected.digest());
    expect((await lab.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
    const mass = await massLab.run(['apply', '--now', MASS_AT, '--allow-mass-delete', 'mass.json']);
    expect(mass.exitCode, `${mass.stdout}\n${mass.stderr}`).toBe(0);
    expect(mass.stdout).toMatch(
      /Apply complete! Resources: 1 added, 0 changed, 0 destroyed; [3-9] snapshots merged away\./,
    );
  });
});

describe('instants in the past stay allowed', () => {
  it('reconcile --now and apply --now of a saved plan made for a past instant work', async () => {
    const past = await DirLab.create('lvchain-hostile-past-');
    try {
      await past.writeConfig(
        { 'vm-300-disk-0': { size: '2MiB', policy: 'hourly' } },
        { policies: { hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 3 } } } },
      );
      await past.apply('--now', '2026-01-05T09:59:00Z');
      const r = await past.run(['reconcile', '--now', '2026-01-05T10:30:00Z']);
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('1 snapshot(s) taken');
      // A plan made for a past instant applies only when apply is told that instant.
      const later = '2026-01-05T11:30:00Z';
      const plan = await past.run(['plan', '--now', later, '--out', 'p.json']);
      expect(plan.exitCode, plan.stderr).toBe(0);
      const refused = await past.run(['apply', 'p.json']);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('--max-plan-age');
      const applied = await past.run(['apply', '--now', later, 'p.json']);
      expect(applied.exitCode, `${applied.stdout}\n${applied.stderr}`).toBe(0);
      expect(applied.stdout).toContain('Apply complete!');
    } finally {
      await past.dispose();
    }
  });
});
