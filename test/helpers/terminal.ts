/** The built CLI run under a pseudo-terminal (`script`), as an admin at a terminal runs it. */
import { execa } from 'execa';
import { CLI } from './cli.js';
import type { DirLab } from './dirlab.js';
import { requireTool } from './tools.js';
import { shellCommand } from '../../src/base/quote.js';

export interface TerminalRun {
  exitCode: number | undefined;
  /** Everything the terminal showed. */
  stdout: string;
  /** The status line as each redraw (carriage return, erase line) left it. */
  redraws: string[];
}

export async function runInTerminal(lab: DirLab, args: readonly string[]): Promise<TerminalRun> {
  requireTool('script', 'bsdutils');
  const cmd = shellCommand(['node', CLI, '-c', lab.configPath, ...args]);
  const r = await execa('script', ['-qec', cmd, '/dev/null'], {
    cwd: lab.root,
    env: { NO_COLOR: '1', TERM: 'dumb' },
    reject: false,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode, stdout: r.stdout, redraws: r.stdout.split('\r\x1b[2K').slice(1) };
}
