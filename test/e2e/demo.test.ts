/**
 * The README's demo command works from a fresh clone. It installs what
 * it needs (apt as root, then npm ci) and runs validate → plan → apply → plan, ending in
 * "No changes". The clone is of the committed tree, as CI's is.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';

describe('the demo command from a fresh clone', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs validate, plan, apply, plan and ends with No changes', async () => {
    requireTool('git', 'git');
    dir = await mkdtemp(join(tmpdir(), 'lvchain-clone-'));
    const clone = join(dir, 'lvchain');
    await execa('git', ['clone', '--quiet', REPO, clone]);
    const readme = await execa('grep', ['-F', 'bash scripts/demo.sh', join(clone, 'README.md')], {
      reject: false,
    });
    expect(readme.exitCode, 'the README names the demo command').toBe(0);
    const r = await execa('bash', ['scripts/demo.sh'], {
      cwd: clone,
      reject: false,
      env: { CI: 'true', NO_COLOR: '1' },
      stdin: 'ignore',
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = String(r.stdout);
    expect(out).toContain('The configuration is valid');
    expect(out).toMatch(/Plan: 5 to add, 0 to change, 0 to destroy\./);
    expect(out).toContain('Apply complete! Resources: 5 added, 0 changed, 0 destroyed.');
    expect(out.trimEnd().endsWith('No changes. Your storage matches the configuration.')).toBe(true);
  }, 600_000);
});
