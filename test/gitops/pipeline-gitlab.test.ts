/**
 * The GitLab CI example runs as documented: every script line of examples/ci/gitlab-ci.yml, stage
 * by stage, against a directory storage, with GitLab's predefined variables and a fake GitLab API
 * for the MR note and the merged MR's plan artifact. A merge request is validated, planned (with
 * the Terraform report) and noted (the note updated in place); the merge applies the saved plan;
 * the scheduled pipeline passes, then fails on drift; a stale plan is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';
import { FakeForge } from './helpers/forge.js';
import { GitlabRunner, ruleMatches, type GitlabJobResult } from './helpers/gitlab-runner.js';
import { Site } from './helpers/site.js';

const GUEST = `guests:
  web-900:
    storage: lab
    disks:
      vm-900-disk-0: { size: 64MiB }
    snapshots:
      pre-upgrade: {}
`;
const DISK = (size: string) => `disks:\n  vm-901-disk-0: { storage: lab, size: ${size} }\n`;

function jobs(results: GitlabJobResult[]): string[] {
  return results.map((r) => r.job);
}

function passed(results: GitlabJobResult[]): void {
  for (const r of results) expect(r.ok, `${r.job}:\n${r.log}`).toBe(true);
}

describe('examples/ci/gitlab-ci.yml, run locally', () => {
  let site: Site;
  let forge: FakeForge;
  let gl: GitlabRunner;
  const tree = (config: string) => site.tree(site.config(config), gl.ciHelperPath);

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    site = await Site.create();
    forge = await FakeForge.start();
    gl = await GitlabRunner.load(site, forge, join(REPO, 'examples', 'ci', 'gitlab-ci.yml'));
  });
  afterAll(async () => {
    await forge?.stop();
    await site?.dispose();
  });

  it('evaluates the rules the pipeline uses', () => {
    const push = { CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main' };
    expect(
      ruleMatches('$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', push),
    ).toBe(true);
    expect(
      ruleMatches('$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', {
        ...push,
        CI_COMMIT_BRANCH: 'topic',
      }),
    ).toBe(false);
    expect(ruleMatches('$CI_PIPELINE_SOURCE == "schedule"', push)).toBe(false);
  });

  it('plans a merge request: validate, plan with the Terraform report, one note updated in place', async () => {
    const first = await gl.pipeline(
      { source: 'merge_request_event', sha: 'c1', mr: 5 },
      await tree(GUEST + DISK('32MiB')),
    );
    expect(jobs(first)).toEqual(['validate', 'plan']);
    passed(first);
    const plan = first[1] as GitlabJobResult;
    expect(plan.terraformReport).toEqual({ create: 3, update: 0, delete: 0 });
    expect(plan.log).not.toContain('To perform exactly these actions');
    const md = await readFile(join(plan.workspace, 'plan.md'), 'utf8');
    expect(forge.notes.get(5)).toEqual([{ id: expect.any(Number), body: md }]);
    expect(md).toContain('[CI run](https://gitlab.example/acme/storage/-/jobs/');

    const id = forge.notes.get(5)?.[0]?.id;
    const second = await gl.pipeline(
      { source: 'merge_request_event', sha: 'c2', mr: 5 },
      await tree(GUEST + DISK('48MiB')),
    );
    passed(second);
    expect(forge.notes.get(5)).toHaveLength(1);
    expect(forge.notes.get(5)?.[0]?.id).toBe(id);
    expect(forge.notes.get(5)?.[0]?.body).toContain('size    = 48 MiB');
    expect(forge.log).toContain(`PUT /api/v4/projects/42/merge_requests/5/notes/${id}`);
  });

  it("applies the merged MR's plan on the default branch", async () => {
    forge.commitMrs.set('cd01', [{ iid: 5, state: 'merged' }]);
    const merge = await gl.pipeline({ source: 'push', sha: 'cd01' }, await tree(GUEST + DISK('48MiB')));
    expect(jobs(merge)).toEqual(['apply']);
    passed(merge);
    expect(merge[0]?.log).toMatch(/fetched the plan of merge request !5 \(pipeline \d+, job \d+\)/);
    expect(merge[0]?.log).toContain('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.');
    const check = await site.lvchain(['plan', '--detailed-exitcode'], merge[0]?.workspace ?? '');
    expect(check.exitCode, check.output).toBe(0);
  });

  it('runs the scheduled drift check: passes when in sync, fails when the storage drifted', async () => {
    const clean = await gl.pipeline({ source: 'schedule', sha: 'cd01' }, await tree(GUEST + DISK('48MiB')));
    expect(jobs(clean)).toEqual(['drift']);
    passed(clean);
    await rm(join(site.store, 'images', '901'), { recursive: true });
    const drifted = await gl.pipeline({ source: 'schedule', sha: 'cd01' }, await tree(GUEST + DISK('48MiB')));
    expect(drifted[0]?.ok).toBe(false);
    expect(drifted[0]?.steps[0]?.exitCode).toBe(2);
    expect(drifted[0]?.log).toContain('the storage does not match lvchain.yaml');
    expect(await readFile(join(drifted[0]?.workspace ?? '', 'drift.md'), 'utf8')).toContain(
      'disk.vm-901-disk-0',
    );
    const repair = await site.lvchain(['apply', '--auto-approve'], drifted[0]?.workspace ?? '');
    expect(repair.exitCode, repair.output).toBe(0);
  });

  it('refuses a stale plan on the merge', async () => {
    const next = GUEST + DISK('48MiB') + '  vm-902-disk-0: { storage: lab, size: 32MiB }\n';
    const mr = await gl.pipeline({ source: 'merge_request_event', sha: 'e1', mr: 6 }, await tree(next));
    passed(mr);
    expect((mr[1] as GitlabJobResult).terraformReport).toEqual({ create: 1, update: 0, delete: 0 });
    const hand = join(await site.tempDir('hand'), 'lvchain.yaml');
    await writeFile(
      hand,
      site.config(GUEST.replace('pre-upgrade: {}', 'pre-upgrade: {}\n      hotfix: {}') + DISK('48MiB')),
    );
    const manual = await site.lvchain(['-c', hand, 'apply', '--auto-approve'], site.dir);
    expect(manual.exitCode, manual.output).toBe(0);
    forge.commitMrs.set('cd02', [{ iid: 6, state: 'merged' }]);
    const merge = await gl.pipeline({ source: 'push', sha: 'cd02' }, await tree(next));
    expect(jobs(merge)).toEqual(['apply']);
    expect(merge[0]?.ok).toBe(false);
    expect(merge[0]?.log).toContain('fetched the plan of merge request !6');
    expect(merge[0]?.log).toContain('Saved plan is stale: the storage changed since the plan was made');
    expect(existsSync(join(site.store, 'images', '902'))).toBe(false);
  });
});
