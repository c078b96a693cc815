/**
 * The process behind an Io: stdout and stderr, the terminal, the environment, and the command
 * log. The pipeline learns about them only through the `Io` made here.
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { CiContext, GlobalOptions, Io } from '../pipeline/io.js';
import { styleFor } from '../pipeline/io.js';

/**
 * @param stdoutOpen false once the reader of stdout went away: what is printed after that is
 * dropped instead of raising EPIPE again.
 */
export function makeIo(color: boolean, commandLog: string | undefined, stdoutOpen: () => boolean): Io {
  // A status line is on the terminal until the next line of output replaces it.
  let status = false;
  const clear = () => {
    if (status && stdoutOpen()) process.stdout.write('\r\x1b[2K');
    status = false;
  };
  const io: Io = {
    out: (t) => {
      clear();
      if (stdoutOpen()) process.stdout.write(`${t}\n`);
    },
    err: (t) => {
      clear();
      process.stderr.write(`${t}\n`);
    },
    style: styleFor(color),
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    automation: Boolean(process.env['LVCHAIN_IN_AUTOMATION'] || process.env['TF_IN_AUTOMATION']),
    ci: ciFromEnv(process.env),
    clock: () => Date.now(),
    ask: async (q) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return await rl.question(q);
      } finally {
        rl.close();
      }
    },
  };
  if (process.stdout.isTTY)
    io.progress = (line) => {
      if (line === undefined) return clear();
      if (!stdoutOpen()) return;
      process.stdout.write(`\r\x1b[2K${line}`);
      status = true;
    };
  if (commandLog !== undefined) {
    // Appended synchronously, line by line, so the log survives a killed process.
    io.onCommand = (e) =>
      appendFileSync(commandLog, `${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
  }
  return io;
}

export function globals(program: Command): GlobalOptions {
  const o = program.opts<{ config: string; color: boolean; commandLog?: string }>();
  const color = o.color && !process.env['NO_COLOR'] && Boolean(process.stdout.isTTY);
  return { config: o.config, color, ...(o.commandLog !== undefined ? { commandLog: o.commandLog } : {}) };
}

/** The CI facts lvchain uses, from an environment (GitHub Actions and GitLab CI variables). */
export function ciFromEnv(env: Readonly<Record<string, string | undefined>>): CiContext {
  const ci: CiContext = {};
  if (env['GITHUB_STEP_SUMMARY']) ci.stepSummary = env['GITHUB_STEP_SUMMARY'];
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run, CI_JOB_URL: job } = env;
  if (server && repo && run) ci.runUrl = `${server}/${repo}/actions/runs/${run}`;
  else if (job) ci.runUrl = job;
  return ci;
}
