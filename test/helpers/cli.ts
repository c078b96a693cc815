/** Run the built lvchain CLI as a user would. */
import { execa } from 'execa';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO, 'dist', 'cli', 'index.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function lvchain(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  const r = await execa('node', [CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { NO_COLOR: '1', LVCHAIN_IN_AUTOMATION: '', ...opts.env },
    reject: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
