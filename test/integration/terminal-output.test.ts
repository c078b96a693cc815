/**
 * What reaches the terminal and PR comments:
 * a reader that goes away early, names planted in the storage, and a machine without qemu-img.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { DirLab } from '../helpers/dirlab.js';
import { requireTool } from '../helpers/tools.js';

/**
 * Runs the CLI with its stdout on a pipe, reads the first line and closes the pipe, as
 * `lvchain … | head -1` does. Resolves with the exit code and stderr.
 */
function firstLineOnly(
  args: string[],
  cwd: string,
): Promise<{ first: string; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stderr = '';
  let first = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  // Closed at the first chunk: the output is far larger than what a pipe and this reader's
  // buffer hold, so lvchain is still writing.
  child.stdout.once('data', (b: Buffer) => {
    first = b.toString('utf8').split('\n')[0] ?? '';
    child.stdout.destroy();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ first, code, stderr })));
}

describe('a reader that goes away (lvchain plan | head -1)', () => {
  let lab: DirLab;

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    lab = await DirLab.create('lvchain-epipe-');
    // 1,000 disks make a plan of about 500 KiB, NDJSON of more.
    const disks = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [`vm-${1000 + i}-disk-0`, { size: '1GiB' }]),
    );
    await lab.writeConfig(disks);
  });
  afterAll(async () => lab?.dispose());

  it('plan ends quietly with exit 0', async () => {
    const r = await firstLineOnly(['-c', lab.configPath, 'plan'], lab.root);
    expect(r.first).toMatch(/^Worst case on lab/);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('plan --json ends quietly with exit 0', async () => {
    const r = await firstLineOnly(['-c', lab.configPath, 'plan', '--json'], lab.root);
    expect(r.first).toContain('"type":"version"');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('names planted in the storage', () => {
  let lab: DirLab;
  const DISK = 'vm-820-disk-0';
  const evil = 'evil\x1b[2J\nPlan: 0 to add, 0 to change, 0 to destroy. @security-team <img src=x>.qcow2';

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    lab = await DirLab.create('lvchain-names-');
    await lab.writeConfig({ [DISK]: { size: '64MiB' } });
    await lab.apply();
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', join(lab.diskDir(DISK), evil), '1M']);
  });
  afterAll(async () => lab?.dispose());

  it('reach the terminal with their control characters shown as \\xNN', async () => {
    const r = await lab.run(['plan']);
    expect(r.exitCode, r.stderr).toBe(0);
    const all = r.stdout + r.stderr;
    expect(all).not.toContain('\x1b');
    expect(all).toContain('evil\\x1b[2J\\x0aPlan: 0 to add');
    // The only line that starts like a plan summary is lvchain's own, if any.
    expect(all.split('\n').filter((l) => l.startsWith('Plan:'))).toEqual([]);
  });

  it('reach the PR comment without a mention, a tag or a line of their own', async () => {
    const md = join(lab.root, 'plan.md');
    const r = await lab.run(['plan', '--markdown', md]);
    expect(r.exitCode, r.stderr).toBe(0);
    const text = await readFile(md, 'utf8');
    expect(text).toContain('evil');
    expect(text).not.toMatch(/@[A-Za-z0-9]/);
    expect(text).not.toMatch(/(^|[^\\])<img/);
    expect(text).not.toContain('\x1b');
    expect(text.split('\n').filter((l) => l.startsWith('Plan:'))).toEqual([]);
  });
});

describe('a missing tool is named', () => {
  let lab: DirLab;
  let emptyPath: string;

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    lab = await DirLab.create('lvchain-tools-');
    await lab.writeConfig({ 'vm-830-disk-0': { size: '64MiB' } });
    await lab.apply();
    emptyPath = await mkdtemp(join(tmpdir(), 'lvchain-nopath-'));
    await writeFile(join(emptyPath, 'README'), 'a PATH without qemu-img\n');
  });
  afterAll(async () => {
    await lab?.dispose();
    await rm(emptyPath, { recursive: true, force: true });
  });

  it('qemu-img absent on this machine: tool_missing, with its Debian package and the host', async () => {
    const r = await execa(process.execPath, [CLI, '-c', lab.configPath, 'plan'], {
      cwd: lab.root,
      env: { NO_COLOR: '1', PATH: emptyPath },
      extendEnv: false,
      reject: false,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('qemu-img is not installed on this machine (Debian package qemu-utils)');
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  });
});
