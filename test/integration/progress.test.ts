/**
 * Progress of a data move, through the built CLI: on a terminal (a pseudo-terminal made by
 * `script`) one status line is redrawn in place; in a log, a whole line per 10 %.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { writePattern } from '../helpers/data.js';
import { CLI } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';
import { diskConfig } from '../helpers/configs.js';

const DISK = 'vm-931-disk-0';
const MiB = 1024 * 1024;
let lab: DirLab;
afterEach(async () => lab.dispose());

async function withMergeDue(): Promise<void> {
  lab = await DirLab.create('lvchain-progress-');
  const config = (snapshots: string[]) =>
    lab.writeRawConfig(diskConfig({ disk: DISK, size: '256MiB', snapshots }));
  await config(['s1']);
  await lab.apply();
  await writePattern(lab.top(DISK), 0, 192 * MiB, 0x3c);
  await config([]);
}

const PROGRESS = /\[\d+\/\d+\] \[[#.]{20}\] \d+%/;

describe('progress of a data move', () => {
  it('on a terminal, redraws one status line in place, and leaves none behind', async () => {
    requireTool('script', 'bsdutils');
    await withMergeDue();
    const cmd = ['node', CLI, '-c', lab.configPath, 'apply', '--auto-approve', '--merge-direction', 'commit']
      .map((a) => `'${a}'`)
      .join(' ');
    const r = await execa('script', ['-qec', cmd, '/dev/null'], {
      cwd: lab.root,
      env: { NO_COLOR: '1', TERM: 'dumb' },
      reject: false,
      stdin: 'ignore',
    });
    expect(r.exitCode, r.stdout).toBe(0);
    const redraws = r.stdout.split('\r\x1b[2K').slice(1);
    expect(redraws.length, r.stdout).toBeGreaterThan(1);
    expect(redraws[0]).toMatch(new RegExp(`^snapshot\\.${DISK}@s1: ${PROGRESS.source}`));
    // Every status line is cleared before the next line of output: none ends in a newline.
    for (const d of redraws.slice(0, -1))
      expect(d.includes('\n') ? d.startsWith('snapshot') : true).toBe(true);
    expect(r.stdout).toContain('Apply complete!');
  });

  it('in a log, prints a whole line per 10 % and no control characters', async () => {
    await withMergeDue();
    const r = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => PROGRESS.test(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(r.stdout).not.toContain('\r');
  });
});
