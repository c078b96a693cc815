/**
 * A saved plan of an older format is refused by apply, naming both formats and what to do, with
 * nothing changed: its steps' commands are read differently by this lvchain.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLab } from '../helpers/dirlab.js';
import { PLAN_FORMAT_VERSION } from '../../src/model/plan.js';

let lab: DirLab;

beforeAll(async () => {
  lab = await DirLab.create('lvchain-plan-format-');
  await lab.writeConfig({ 'vm-100-disk-0': { size: '2MiB', snapshots: ['s1'] } });
});

afterAll(async () => {
  await lab.dispose();
});

describe('plan format', () => {
  it('a genuine plan edited back to format 1.0 is refused by apply, naming both formats', async () => {
    const file = join(lab.root, 'old.json');
    const made = await lab.run(['plan', '--detailed-exitcode', '--out', file]);
    expect(made.exitCode).toBe(2);
    const plan = JSON.parse(await readFile(file, 'utf8')) as { format_version: string };
    expect(plan.format_version).toBe(PLAN_FORMAT_VERSION);
    await writeFile(file, JSON.stringify({ ...plan, format_version: '1.0' }, null, 2));
    const before = await lab.snapshotTree();
    const r = await lab.run(['apply', file]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('plan format 1.0');
    expect(r.stderr).toContain(`reads plan format ${PLAN_FORMAT_VERSION}`);
    expect(r.stderr).toContain('Run "lvchain plan" again');
    expect(await lab.snapshotTree()).toEqual(before);
  });
});
