/**
 * Time estimates (issue 12, acceptance 2), through the built CLI on a directory storage: each
 * merge apply runs is recorded on the storage (planned bytes, measured time); the next plan
 * estimates its merges from that record, and the estimate of a 1 GiB merge is checked against
 * the time the merge then takes, under a real pseudo-terminal (`script`), where the progress
 * line is redrawn in place with its rate and time left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { runInTerminal } from '../helpers/terminal.js';
import { writePattern } from '../helpers/data.js';
import { diskConfig } from '../helpers/configs.js';
import type { Plan } from '../../src/model/plan.js';

const DISK = 'vm-941-disk-0';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
let lab: DirLab;
afterEach(async () => lab?.dispose());

const config = (snapshots: string[], size = '1GiB') =>
  lab.writeRawConfig(diskConfig({ disk: DISK, size, snapshots }));
const record = () => join(lab.root, 'store', '.lvchain.merges');

/** Take a snapshot, fill the top above it, and declare the snapshot gone: a commit of `bytes` is due. */
async function mergeDue(snap: string, bytes: number, pattern: number): Promise<void> {
  await config([snap]);
  expect((await lab.apply()).exitCode).toBe(0);
  await writePattern(lab.top(DISK), 0, bytes, pattern);
  await config([]);
}

/** `plan --out due.json`: the plan as saved, and as printed. */
async function savedPlan(): Promise<{ plan: Plan; text: string }> {
  const r = await lab.run(['plan', '--merge-direction', 'commit', '--out', 'due.json']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return { plan: JSON.parse(await readFile(join(lab.root, 'due.json'), 'utf8')) as Plan, text: r.stdout };
}

/** The samples in the storage's record, as `<bytes>:<ms>`. */
async function samples(): Promise<{ bytes: number; ms: number }[]> {
  const text = (await readFile(record(), 'utf8')).trim();
  return text.split('+').map((p) => {
    const [bytes, ms] = p.split(':').map(Number);
    return { bytes: bytes as number, ms: ms as number };
  });
}

describe('time estimates from the merges a storage has on record', () => {
  it('estimates a 1 GiB merge within a factor of 3 after one recorded merge, and shows its progress redrawn with rate and time left', async () => {
    lab = await DirLab.create('lvchain-estimate-');
    await mergeDue('s1', GiB, 0x3c);
    // No merge on record yet: the plan says its rate is assumed.
    const first = await savedPlan();
    const firstChange = first.plan.resource_changes.find((c) => c.operation.op === 'delete');
    expect(firstChange?.x_estimate).toMatchObject({ basis: 'assumed', merges: 0 });
    // 1 GiB at the assumed 50 MiB/s: 20.48 s.
    expect(first.plan.summary.time_estimate).toEqual({ seconds: 20.5, assumed: true });
    expect(first.text).toMatch(
      /1 snapshot to merge away \(1(\.0)? GiB to copy, about 21 s at an assumed 50 MiB\/s\)/,
    );
    expect(first.text).toMatch(/time: about 21 s at an assumed 50 MiB\/s, as lab has no merge on record yet/);
    expect((await lab.run(['apply', 'due.json'])).exitCode).toBe(0);
    const recorded = await samples();
    expect(recorded).toHaveLength(1);
    const planned = firstChange?.x_steps.flatMap((s) => (s.step.kind === 'commit' ? [s.step.bytes] : []));
    expect(recorded[0]?.bytes).toBe(planned?.[0]);
    expect(recorded[0]?.bytes).toBeGreaterThanOrEqual(GiB);

    await mergeDue('s2', GiB, 0x5a);
    const second = await savedPlan();
    const estimate = second.plan.summary.time_estimate;
    const change = second.plan.resource_changes.find((c) => c.operation.op === 'delete');
    expect(change?.x_estimate).toMatchObject({ basis: 'recorded', merges: 1 });
    expect(second.text).toMatch(
      /time: (about \d+ s|under a second) at [\d.]+ [KMG]iB\/s, measured over 1 recent merge on lab/,
    );
    expect(estimate?.assumed).toBe(false);
    const r = await runInTerminal(lab, ['apply', 'due.json']);
    expect(r.exitCode, r.stdout).toBe(0);
    // Redrawn in place (carriage return, erase line): bytes done of the total, rate, time left.
    expect(
      r.redraws.some((d) =>
        /\d+% +\S+ \S+ of \S+ GiB +[\d.]+ [KMG]iB\/s +(about [\d.]+ (s|min)|under a second) left/.test(d),
      ),
      r.stdout,
    ).toBe(true);
    const closing =
      /Merges copied up to ([\d.]+ [KMG]iB) in ([\d.]+) s; the plan estimated about (\d+) (s|min)\./.exec(
        r.stdout,
      );
    expect(closing, r.stdout).not.toBeNull();
    const measured = Number(closing?.[2]);
    expect(closing?.[1]).toMatch(/GiB$/);
    const estimated = estimate?.seconds ?? 0;
    expect(estimated, `estimated ${estimated} s, measured ${measured} s`).toBeGreaterThanOrEqual(
      measured / 3,
    );
    expect(estimated, `estimated ${estimated} s, measured ${measured} s`).toBeLessThanOrEqual(measured * 3);
    // The second merge joined the record.
    expect(await samples()).toHaveLength(2);
  });

  it('does not use a record that is not lvchain’s, says so, and replaces it (never writing through a link)', async () => {
    lab = await DirLab.create('lvchain-estimate-');
    await mergeDue('s1', 8 * MiB, 0x21);
    const victim = join(lab.root, 'victim');
    await writeFile(victim, '1:1\n');
    await symlink(victim, record());
    const planned = await lab.run(['plan', '--merge-direction', 'commit']);
    expect(planned.stdout + planned.stderr).toMatch(
      /the record of recent merges is not used: .*\.lvchain\.merges is a symbolic link/,
    );
    expect(planned.stdout).toMatch(/at an assumed 50 MiB\/s/);
    expect((await lab.apply('--merge-direction', 'commit')).exitCode).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('1:1\n');
    expect(await samples()).toHaveLength(1);

    // A damaged record is not used either; the next merge replaces it.
    await writeFile(record(), '123:abc\n');
    await mergeDue('s2', 8 * MiB, 0x22);
    const damaged = await lab.run(['plan', '--merge-direction', 'commit']);
    expect(damaged.stdout + damaged.stderr).toMatch(/\.lvchain\.merges is not a record lvchain writes/);
    expect((await lab.apply('--merge-direction', 'commit')).exitCode).toBe(0);
    expect(await samples()).toHaveLength(1);
    const clean = await lab.run(['plan']);
    expect(clean.stdout + clean.stderr).not.toMatch(/record of recent merges/);
  });
});
