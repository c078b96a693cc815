/**
 * A temp directory with an lvchain config and a directory storage inside it, driven through the
 * real CLI. Plans for the golden tests come from here: real qcow2 files, real qemu-img.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lvchain, type CliResult } from '../../helpers/cli.js';
import type { Plan } from '../../../src/model/plan.js';
import { planSchema } from '../../../src/model/plan.js';

/** Environment for CLI runs in tests: nothing from an outer CI leaks in. */
export const QUIET_ENV = { GITHUB_STEP_SUMMARY: '', TF_IN_AUTOMATION: '', LVCHAIN_IN_AUTOMATION: '' };

export class Workspace {
  private constructor(readonly dir: string) {}

  static async create(prefix = 'lvchain-gitops-'): Promise<Workspace> {
    return new Workspace(await mkdtemp(join(tmpdir(), prefix)));
  }

  get config(): string {
    return join(this.dir, 'lvchain.yaml');
  }

  /** The storage's root: `directories: { lab: { path: ./store } }` in every config here. */
  get store(): string {
    return join(this.dir, 'store');
  }

  image(disk: string): string {
    const id = /^vm-(\d+)-/.exec(disk)?.[1] ?? '0';
    return join(this.store, 'images', id, `${disk}.qcow2`);
  }

  async writeConfig(body: string): Promise<void> {
    await writeFile(this.config, `version: 1\ndirectories:\n  lab: { path: ./store }\n${body}`);
  }

  async run(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    // A relative -c, as in CI: the PR comment's title and marker show it as typed.
    return lvchain(['-c', 'lvchain.yaml', ...args], { cwd: this.dir, env: { ...QUIET_ENV, ...env } });
  }

  /** `lvchain apply --auto-approve`, which must succeed. */
  async apply(args: readonly string[] = []): Promise<void> {
    const r = await this.run(['apply', '--auto-approve', ...args]);
    if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }

  /** `lvchain plan --out` with extra outputs; returns the saved plan and the CLI result. */
  async plan(args: readonly string[] = []): Promise<{ plan: Plan; result: CliResult }> {
    const out = join(this.dir, 'plan.json');
    const result = await this.run(['plan', '--out', out, ...args]);
    if (result.exitCode === 1 && result.stderr !== '')
      throw new Error(`plan failed:\n${result.stdout}\n${result.stderr}`);
    return { plan: planSchema.parse(JSON.parse(await readFile(out, 'utf8'))), result };
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The plan with what differs from one machine or run to the next replaced: the temp path, the
 * plan id, the version, and the free space of the filesystem (the planner's deltas are kept).
 */
export function normalizePlan(plan: Plan, dir: string): Plan {
  const text = JSON.stringify(plan).split(dir).join('/tmp/lvchain-golden');
  const p = planSchema.parse(JSON.parse(text));
  const FREE = 10 * 1024 ** 3;
  return {
    ...p,
    plan_id: '00000000-0000-4000-8000-000000000000',
    lvchain_version: '0.0.0-golden',
    capacity: p.capacity.map((c) => ({
      ...c,
      size: 2 * FREE,
      free_before: FREE,
      free_min: FREE - (c.free_before - c.free_min),
      free_after: FREE - (c.free_before - c.free_after),
    })),
  };
}
