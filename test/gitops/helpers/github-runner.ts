/**
 * Runs examples/ci/github-actions.yml locally, as Actions would for one event: the jobs whose
 * `if:` matches, each step's `run:` script with bash -eo pipefail and Actions' environment, in
 * order. Only what the workflow uses is modelled, and anything else throws, so the workflow
 * cannot grow a step this test does not run:
 * - `uses:` actions/checkout (write the commit's files) and actions/upload-artifact (keep the
 *   files for `gh run download`);
 * - `if:` github.event_name comparisons for jobs; success() / !cancelled() / always() for steps;
 * - `${{ github.token }}` in env.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { TOKEN } from './forge.js';
import { INSTALL, Site, type JobResult, type StepResult, type Tree } from './site.js';

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string | number>;
}

interface Job {
  if?: string;
  env?: Record<string, string>;
  steps: Step[];
}

interface Workflow {
  name: string;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

export interface GithubEvent {
  name: 'pull_request' | 'push' | 'schedule';
  sha: string;
  /** For pull_request: the PR number. */
  pr?: number;
}

interface GhState {
  token: string;
  pulls: Record<string, { number: number; head: { sha: string } }[]>;
  runs: {
    databaseId: number;
    headSha: string;
    event: string;
    status: string;
    workflowName: string;
    artifacts: Record<string, string>;
  }[];
}

const expr = (s: string) => s.replace(/^\$\{\{\s*|\s*\}\}$/g, '').trim();

function jobRuns(condition: string | undefined, event: string): boolean {
  if (condition === undefined) return true;
  return expr(condition)
    .split('||')
    .some((term) => {
      const m = /^github\.event_name == '([a-z_]+)'$/.exec(term.trim());
      if (!m) throw new Error(`job if: unsupported expression "${term.trim()}"`);
      return m[1] === event;
    });
}

function stepRuns(condition: string | undefined, failed: boolean): boolean {
  const e = condition === undefined ? 'success()' : expr(condition);
  if (e === 'success()') return !failed;
  if (e === 'failure()') return failed;
  if (e === 'always()' || e === '!cancelled()') return true;
  throw new Error(`step if: unsupported expression "${e}"`);
}

function envValues(env: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? {})) {
    const value = String(v).replace(/\$\{\{\s*github\.token\s*\}\}/g, TOKEN);
    if (value.includes('${{')) throw new Error(`env ${k}: unsupported expression in "${v}"`);
    out[k] = value;
  }
  return out;
}

export class GithubRunner {
  readonly workflow: Workflow;
  private runId = 100;
  readonly gh: GhState = { token: TOKEN, pulls: {}, runs: [] };

  private constructor(
    private readonly site: Site,
    text: string,
    private readonly apiUrl: string,
  ) {
    this.workflow = parse(text) as Workflow;
  }

  static async load(site: Site, file: string, apiUrl: string): Promise<GithubRunner> {
    return new GithubRunner(site, await readFile(file, 'utf8'), apiUrl);
  }

  /** Where the workflow expects lvchain-ci.mjs in the repository. */
  get ciHelperPath(): string {
    const p = this.workflow.env?.['LVCHAIN_CI'];
    if (!p) throw new Error('the workflow sets no LVCHAIN_CI');
    return p;
  }

  /** Record that merging commit `sha` came from this PR (what GitHub's API would report). */
  merged(sha: string, pr: number, head: string): void {
    this.gh.pulls[sha] = [{ number: pr, head: { sha: head } }];
  }

  async run(event: GithubEvent, tree: Tree): Promise<JobResult[]> {
    const id = ++this.runId;
    const artifacts: Record<string, string> = {};
    const results: JobResult[] = [];
    for (const [name, job] of Object.entries(this.workflow.jobs)) {
      if (!jobRuns(job.if, event.name)) continue;
      results.push(await this.job(name, job, event, id, tree, artifacts));
    }
    this.gh.runs.push({
      databaseId: id,
      headSha: event.sha,
      event: event.name,
      status: results.every((r) => r.ok) ? 'success' : 'failure',
      workflowName: this.workflow.name,
      artifacts,
    });
    return results;
  }

  private async job(
    name: string,
    job: Job,
    event: GithubEvent,
    runId: number,
    tree: Tree,
    artifacts: Record<string, string>,
  ): Promise<JobResult> {
    const ws = await this.site.workspace();
    const temp = await this.site.tempDir('runner-temp');
    const eventPath = join(temp, 'event.json');
    await writeFile(
      eventPath,
      JSON.stringify(
        event.pr !== undefined ? { pull_request: { number: event.pr, head: { sha: event.sha } } } : {},
      ),
    );
    const ghState = join(temp, 'gh-state.json');
    await writeFile(ghState, JSON.stringify(this.gh));
    const base = {
      ...this.site.baseEnv(),
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: event.name,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_SHA: event.sha,
      GITHUB_REPOSITORY: 'acme/storage',
      GITHUB_WORKFLOW: this.workflow.name,
      GITHUB_RUN_ID: String(runId),
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_API_URL: this.apiUrl,
      GITHUB_WORKSPACE: ws,
      RUNNER_TEMP: temp,
      FAKE_GH_STATE: ghState,
      ...envValues(this.workflow.env),
      ...envValues(job.env),
    };
    const steps: StepResult[] = [];
    let failed = false;
    let summary = '';
    for (const [i, step] of job.steps.entries()) {
      const label = step.name ?? step.uses ?? step.run ?? `step ${i}`;
      if (!stepRuns(step.if, failed)) continue;
      if (step.uses !== undefined) {
        await this.uses(step, ws, tree, artifacts);
        steps.push({ name: label, exitCode: 0, output: '' });
        continue;
      }
      if (step.run === undefined) throw new Error(`${name}: step "${label}" has neither run nor uses`);
      if (step.id === 'install-lvchain') {
        if (step.run.trim() !== INSTALL) throw new Error(`${name}: unexpected install step: ${step.run}`);
        continue; // lvchain is on PATH: the checkout's build.
      }
      const summaryFile = join(temp, `summary-${i}.md`);
      await writeFile(summaryFile, '');
      const r = await this.site.sh(step.run, ws, {
        ...base,
        ...envValues(step.env),
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_OUTPUT: join(temp, `output-${i}`),
      });
      summary += await readFile(summaryFile, 'utf8');
      steps.push({ name: label, exitCode: r.exitCode, output: r.output });
      if (r.exitCode !== 0) failed = true;
    }
    const log = steps.map((s) => `--- ${s.name} (exit ${s.exitCode})\n${s.output}`).join('\n');
    return { job: name, ok: !failed, steps, summary, log, workspace: ws };
  }

  private async uses(step: Step, ws: string, tree: Tree, artifacts: Record<string, string>): Promise<void> {
    const action = step.uses ?? '';
    if (/^actions\/checkout@v\d+$/.test(action)) {
      await this.site.checkout(tree, ws);
      return;
    }
    if (/^actions\/upload-artifact@v\d+$/.test(action)) {
      const name = String(step.with?.['name'] ?? 'artifact');
      const files = String(step.with?.['path'] ?? '')
        .split('\n')
        .map((f) => f.trim())
        .filter(Boolean);
      const dir = await this.site.tempDir(`artifact-${name}`);
      await this.site.copyInto(files, ws, dir);
      artifacts[name] = dir;
      return;
    }
    throw new Error(`uses: ${action} is not modelled by this test`);
  }
}
