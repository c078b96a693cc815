/**
 * The GitHub Actions example runs as documented: every `run:` step of
 * examples/ci/github-actions.yml, in order, against a directory storage, with Actions'
 * environment, a fake GitHub API for the PR comment and a fake `gh` for the artifact of the
 * reviewed plan. A pull request is planned and commented (and the comment updated in place); the
 * merge applies the saved plan; the nightly job passes, then fails on drift; a plan made stale by
 * a change to the storage is refused on the merge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';
import { FakeForge } from './helpers/forge.js';
import { GithubRunner } from './helpers/github-runner.js';
import { Site, type JobResult } from './helpers/site.js';

const GUEST = `guests:
  web-900:
    storage: lab
    disks:
      vm-900-disk-0: { size: 64MiB }
    snapshots:
      pre-upgrade: {}
`;
const DISK = (size: string) => `disks:\n  vm-901-disk-0: { storage: lab, size: ${size} }\n`;

/** The one job a run had, which must have passed: its log is the failure message otherwise. */
function only(results: JobResult[], job: string): JobResult {
  expect(results.map((r) => r.job)).toEqual([job]);
  return results[0] as JobResult;
}

function passed(r: JobResult): void {
  expect(r.ok, r.log).toBe(true);
}

describe('examples/ci/github-actions.yml, run locally', () => {
  let site: Site;
  let forge: FakeForge;
  let gh: GithubRunner;
  const tree = (config: string) => site.tree(site.config(config), gh.ciHelperPath);

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    site = await Site.create();
    forge = await FakeForge.start();
    gh = await GithubRunner.load(site, join(REPO, 'examples', 'ci', 'github-actions.yml'), forge.url);
  });
  afterAll(async () => {
    await forge?.stop();
    await site?.dispose();
  });

  it('plans a pull request: validate, plan --out as an artifact, one comment updated in place', async () => {
    const first = only(
      await gh.run({ name: 'pull_request', sha: 'a1', pr: 7 }, await tree(GUEST + DISK('32MiB'))),
      'plan',
    );
    passed(first);
    expect(first.steps.map((s) => s.name)).toEqual([
      'actions/checkout@v4',
      'Validate',
      'Plan',
      'Upload the plan',
      'Comment on the pull request',
    ]);
    expect(first.log).toContain('Success! The configuration is valid');
    expect(first.log).toContain('Saved the plan to: plan.json');
    // LVCHAIN_IN_AUTOMATION: no "run this next" hint.
    expect(first.log).not.toContain('To perform exactly these actions');
    const md = await readFile(join(first.workspace, 'plan.md'), 'utf8');
    expect(md.split('\n', 1)[0]).toBe('<!-- lvchain-plan-comment: lvchain.yaml -->');
    expect(md).toContain('**Plan: 3 to add, 0 to change, 0 to destroy.**');
    // The comment, and the job summary (the fallback for forks), hold the plan.
    expect(forge.comments.get(7)).toEqual([{ id: expect.any(Number), body: md }]);
    expect(first.summary).toContain('**Plan: 3 to add, 0 to change, 0 to destroy.**');
    expect(first.summary).toContain('(https://github.example/acme/storage/actions/runs/');

    // A second push to the PR: the same comment now shows the new plan.
    const id = forge.comments.get(7)?.[0]?.id;
    const second = only(
      await gh.run({ name: 'pull_request', sha: 'a2', pr: 7 }, await tree(GUEST + DISK('48MiB'))),
      'plan',
    );
    passed(second);
    const comments = forge.comments.get(7) ?? [];
    expect(comments).toHaveLength(1);
    expect(comments[0]?.id).toBe(id);
    expect(comments[0]?.body).toContain('size    = 48 MiB');
    expect(forge.log).toContain(`PATCH /repos/acme/storage/issues/comments/${id}`);
  });

  it('applies the reviewed plan on the merge', async () => {
    gh.merged('ab01', 7, 'a2');
    const apply = only(
      await gh.run({ name: 'push', sha: 'ab01' }, await tree(GUEST + DISK('48MiB'))),
      'apply',
    );
    passed(apply);
    expect(apply.log).toContain('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.');
    expect(apply.summary).toContain(':white_check_mark: lvchain apply for `lvchain.yaml`');
    expect(existsSync(join(site.store, 'images', '900', 'snap-pre-upgrade-vm-900-disk-0.qcow2'))).toBe(true);
    const check = await site.lvchain(['plan', '--detailed-exitcode'], apply.workspace);
    expect(check.exitCode, check.output).toBe(0);
  });

  it('runs the nightly drift check: passes when in sync, fails when the storage drifted', async () => {
    const clean = only(
      await gh.run({ name: 'schedule', sha: 'ab01' }, await tree(GUEST + DISK('48MiB'))),
      'drift',
    );
    passed(clean);
    expect(clean.summary).toContain('no changes');
    // Someone removes a disk behind lvchain's back.
    await rm(join(site.store, 'images', '901'), { recursive: true });
    const drifted = only(
      await gh.run({ name: 'schedule', sha: 'ab01' }, await tree(GUEST + DISK('48MiB'))),
      'drift',
    );
    expect(drifted.ok).toBe(false);
    expect(drifted.steps.at(-1)?.exitCode).toBe(2);
    expect(drifted.log).toContain('::error title=lvchain drift::');
    expect(drifted.summary).toContain('disk.vm-901-disk-0');
    const repair = await site.lvchain(['apply', '--auto-approve'], drifted.workspace);
    expect(repair.exitCode, repair.output).toBe(0);
  });

  it('refuses a stale plan on the merge', async () => {
    const next = GUEST + DISK('48MiB') + '  vm-902-disk-0: { storage: lab, size: 32MiB }\n';
    const pr = only(await gh.run({ name: 'pull_request', sha: 'b1', pr: 8 }, await tree(next)), 'plan');
    passed(pr);
    // After the plan, the storage changes: someone pins a snapshot by hand.
    const hand = join(await site.tempDir('hand'), 'lvchain.yaml');
    await writeFile(
      hand,
      site.config(GUEST.replace('pre-upgrade: {}', 'pre-upgrade: {}\n      hotfix: {}') + DISK('48MiB')),
    );
    const manual = await site.lvchain(['-c', hand, 'apply', '--auto-approve'], site.dir);
    expect(manual.exitCode, manual.output).toBe(0);
    gh.merged('ab02', 8, 'b1');
    const apply = only(await gh.run({ name: 'push', sha: 'ab02' }, await tree(next)), 'apply');
    expect(apply.ok).toBe(false);
    const step = apply.steps.at(-1);
    expect(step?.name).toBe('Apply the saved plan');
    expect(step?.exitCode).toBe(1);
    expect(step?.output).toContain('Saved plan is stale: the storage changed since the plan was made');
    expect(existsSync(join(site.store, 'images', '902'))).toBe(false);
  });
});
