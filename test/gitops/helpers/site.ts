/**
 * The world a CI pipeline runs in, locally: one storage (a directory, kept across jobs as a
 * real storage host keeps its VG), a bin directory with `lvchain` (the checkout's build, in
 * place of the pipelines' `npm install --global lvchain`) and a fake `gh`, fresh workspaces
 * for each job, and the repository's files at each commit.
 */
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CLI, REPO } from '../../helpers/cli.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** A commit: file path → content. */
export type Tree = Record<string, string>;

export interface StepResult {
  name: string;
  exitCode: number;
  output: string;
}

export interface JobResult {
  job: string;
  ok: boolean;
  steps: StepResult[];
  /** What the job wrote to GITHUB_STEP_SUMMARY. */
  summary: string;
  /** Everything the job printed. */
  log: string;
  workspace: string;
}

/** The only install command the pipelines may use; the test puts the checkout's build there. */
export const INSTALL = 'npm install --global "lvchain@$LVCHAIN_VERSION"';

export class Site {
  private seq = 0;
  private constructor(readonly dir: string) {}

  static async create(): Promise<Site> {
    const s = new Site(await mkdtemp(join(tmpdir(), 'lvchain-ci-')));
    await mkdir(s.bin, { recursive: true });
    await mkdir(s.store, { recursive: true });
    const shim = async (name: string, target: string) => {
      await writeFile(join(s.bin, name), `#!/bin/sh\nexec node ${JSON.stringify(target)} "$@"\n`);
      await chmod(join(s.bin, name), 0o755);
    };
    await shim('lvchain', CLI);
    await shim('gh', join(HERE, 'fake-gh.mjs'));
    return s;
  }

  get bin(): string {
    return join(this.dir, 'bin');
  }

  get store(): string {
    return join(this.dir, 'storage');
  }

  /** A config on the shared storage; `body` holds guests and disks. */
  config(body: string): string {
    return `version: 1\ndirectories:\n  lab: { path: ${JSON.stringify(this.store)} }\n${body}`;
  }

  /** The repository at a commit: the config and the CI helper where the pipeline expects it. */
  async tree(config: string, ciHelperPath: string): Promise<Tree> {
    return {
      'lvchain.yaml': config,
      [ciHelperPath]: await readFile(join(REPO, 'examples', 'ci', 'lvchain-ci.mjs'), 'utf8'),
    };
  }

  /** A fresh, empty job workspace. */
  async workspace(): Promise<string> {
    return this.tempDir('ws');
  }

  /** Check out a commit's files into a workspace. */
  async checkout(tree: Tree, ws: string): Promise<void> {
    for (const [path, text] of Object.entries(tree)) {
      await mkdir(dirname(join(ws, path)), { recursive: true });
      await writeFile(join(ws, path), text);
    }
  }

  async tempDir(name: string): Promise<string> {
    const d = join(this.dir, `${name}-${++this.seq}`);
    await mkdir(d, { recursive: true });
    return d;
  }

  async copyInto(files: readonly string[], from: string, to: string): Promise<void> {
    await mkdir(to, { recursive: true });
    for (const f of files) await cp(join(from, f), join(to, f));
  }

  /** The base environment of every job: PATH with the shims first, nothing from the host's CI. */
  baseEnv(): Record<string, string> {
    return {
      PATH: `${this.bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: this.dir,
      CI: 'true',
    };
  }

  async sh(
    script: string,
    cwd: string,
    env: Record<string, string>,
  ): Promise<{ exitCode: number; output: string }> {
    const file = join(await this.tempDir('script'), 'step.sh');
    await writeFile(file, script);
    const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
      cwd,
      env,
      extendEnv: false,
      reject: false,
      all: true,
    });
    return { exitCode: r.exitCode ?? -1, output: String(r.all ?? '') };
  }

  /** Run the CLI directly, as a person on the storage host would. */
  async lvchain(args: readonly string[], cwd: string): Promise<{ exitCode: number; output: string }> {
    return this.sh(
      `lvchain ${args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`,
      cwd,
      this.baseEnv(),
    );
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
