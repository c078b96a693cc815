/**
 * Runs examples/ci/gitlab-ci.yml locally, as GitLab would for one pipeline: the jobs whose
 * `rules: - if:` match, stage by stage, each job's script lines in one bash -eo pipefail shell
 * with GitLab's predefined variables, and its artifacts kept for the API (the merge's
 * fetch-plan). Only what the pipeline uses is modelled, and anything else throws.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ID, TOKEN, type FakeForge, type GitlabPipeline } from './forge.js';
import { INSTALL, type JobResult, type Site, type Tree } from './site.js';

interface Job {
  stage: string;
  script: string[];
  before_script?: string[];
  variables?: Record<string, string>;
  rules?: { if?: string; when?: string }[];
  artifacts?: { when?: string; paths?: string[]; reports?: { terraform?: string } };
}

interface Doc {
  variables?: Record<string, string>;
  default?: { before_script?: string[] };
  stages: string[];
  [job: string]: unknown;
}

const RESERVED = new Set([
  'variables',
  'default',
  'stages',
  'workflow',
  'include',
  'image',
  'services',
  'cache',
]);

export type Source = 'merge_request_event' | 'push' | 'schedule';

export interface PipelineRun {
  source: Source;
  sha: string;
  /** The merge request, for merge_request_event. */
  mr?: number;
}

export interface GitlabJobResult extends JobResult {
  /** The parsed `artifacts:reports:terraform` file, if the job has one. */
  terraformReport?: unknown;
}

/** `$A == "x"`, `$A == $B`, joined by && and || (no parentheses): what the pipeline uses. */
export function ruleMatches(expr: string, vars: Record<string, string>): boolean {
  const value = (t: string): string | null => {
    const s = t.trim();
    if (s.startsWith('$')) return vars[s.slice(1)] ?? null;
    const m = /^"([^"]*)"$/.exec(s);
    if (!m) throw new Error(`rules: unsupported operand ${s}`);
    return m[1] as string;
  };
  return expr.split('||').some((any) =>
    any.split('&&').every((term) => {
      const m = /^(.+?)\s*(==|!=)\s*(.+)$/.exec(term.trim());
      if (!m) throw new Error(`rules: unsupported expression ${term.trim()}`);
      const same = value(m[1] as string) === value(m[3] as string);
      return m[2] === '==' ? same : !same;
    }),
  );
}

export class GitlabRunner {
  readonly doc: Doc;
  private nextId = 500;

  private constructor(
    private readonly site: Site,
    private readonly forge: FakeForge,
    text: string,
  ) {
    this.doc = parse(text) as Doc;
  }

  static async load(site: Site, forge: FakeForge, file: string): Promise<GitlabRunner> {
    return new GitlabRunner(site, forge, await readFile(file, 'utf8'));
  }

  get ciHelperPath(): string {
    const p = this.doc.variables?.['LVCHAIN_CI'];
    if (!p) throw new Error('the pipeline sets no LVCHAIN_CI');
    return p;
  }

  private jobs(): [string, Job][] {
    const all = Object.entries(this.doc).filter(([k]) => !RESERVED.has(k) && !k.startsWith('.')) as [
      string,
      Job,
    ][];
    const order = (j: Job) => {
      const i = this.doc.stages.indexOf(j.stage);
      if (i < 0) throw new Error(`stage ${j.stage} is not in stages`);
      return i;
    };
    return all.sort(([, a], [, b]) => order(a) - order(b));
  }

  async pipeline(run: PipelineRun, tree: Tree): Promise<GitlabJobResult[]> {
    const pipeline: GitlabPipeline = {
      id: ++this.nextId,
      sha: run.sha,
      status: 'success',
      ...(run.mr !== undefined ? { mr: run.mr } : {}),
      jobs: [],
    };
    const vars: Record<string, string> = {
      CI: 'true',
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: run.source,
      CI_COMMIT_SHA: run.sha,
      CI_DEFAULT_BRANCH: 'main',
      CI_PROJECT_ID: PROJECT_ID,
      CI_API_V4_URL: `${this.forge.url}/api/v4`,
      CI_PIPELINE_ID: String(pipeline.id),
      ...(run.source === 'merge_request_event'
        ? { CI_MERGE_REQUEST_IID: String(run.mr) }
        : { CI_COMMIT_BRANCH: 'main' }),
      // A masked CI/CD variable of the project.
      LVCHAIN_GITLAB_TOKEN: TOKEN,
      ...(this.doc.variables ?? {}),
    };
    const results: GitlabJobResult[] = [];
    for (const [name, job] of this.jobs()) {
      const rule = (job.rules ?? [{}]).find((r) => r.if === undefined || ruleMatches(r.if, vars));
      if (!rule || rule.when === 'never') continue;
      if (results.some((r) => !r.ok)) break; // a failed stage stops the pipeline
      const r = await this.job(name, job, vars, tree);
      pipeline.jobs.push({ id: r.id, name, status: r.ok ? 'success' : 'failed', artifacts: r.artifacts });
      results.push(r);
    }
    if (results.some((r) => !r.ok)) pipeline.status = 'failed';
    this.forge.pipelines.push(pipeline);
    return results;
  }

  private async job(
    name: string,
    job: Job,
    vars: Record<string, string>,
    tree: Tree,
  ): Promise<GitlabJobResult & { id: number; artifacts: string }> {
    const id = ++this.nextId;
    const ws = await this.site.workspace();
    await this.site.checkout(tree, ws);
    const before = job.before_script ?? this.doc.default?.before_script ?? [];
    if (before.length !== 1 || before[0] !== INSTALL)
      throw new Error(
        `${name}: before_script must be just the install command, got ${JSON.stringify(before)}`,
      );
    const env = {
      ...this.site.baseEnv(),
      ...vars,
      ...(job.variables ?? {}),
      CI_JOB_ID: String(id),
      CI_JOB_NAME: name,
      CI_JOB_URL: `https://gitlab.example/acme/storage/-/jobs/${id}`,
      CI_PROJECT_DIR: ws,
    };
    const r = await this.site.sh(job.script.join('\n'), ws, env);
    const ok = r.exitCode === 0;
    const a = job.artifacts;
    const keep = a !== undefined && (ok || a.when === 'always');
    const artifacts = await this.site.tempDir(`artifacts-${name}`);
    if (keep) {
      const present = (a.paths ?? []).filter((f) => existsSync(join(ws, f)));
      await this.site.copyInto(present, ws, artifacts);
    }
    const result: GitlabJobResult & { id: number; artifacts: string } = {
      id,
      artifacts,
      job: name,
      ok,
      steps: [{ name: 'script', exitCode: r.exitCode, output: r.output }],
      summary: '',
      log: r.output,
      workspace: ws,
    };
    if (keep && a.reports?.terraform)
      result.terraformReport = JSON.parse(await readFile(join(ws, a.reports.terraform), 'utf8'));
    return result;
  }
}
