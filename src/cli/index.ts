#!/usr/bin/env node
/**
 * The lvchain command line. Wiring only: assemble the program from one file per command,
 * turn a command's result or error into an exit code, and handle signals. Nothing else in
 * lvchain exits the process.
 */
import { Command, CommanderError } from 'commander';
import type { GlobalOptions, Io } from '../pipeline/io.js';
import { styleFor } from '../pipeline/io.js';
import { ConfigError, formatIssue, isLvchainError } from '../base/errors.js';
import { renderDiagnostic } from '../render/text.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import { stopChildren } from '../exec/lifetime.js';
import { globals, makeIo } from './io.js';
import type { Wiring } from './wiring.js';
import { addValidate } from './program/validate.js';
import { addPlan } from './program/plan.js';
import { addApply } from './program/apply.js';
import { addShow } from './program/show.js';
import { addList } from './program/list.js';
import { addRollback } from './program/rollback.js';
import { addImport } from './program/import.js';
import { addReconcile } from './program/reconcile.js';
import { addForceUnlock } from './program/force-unlock.js';
import { addCheck } from './program/check.js';
import { addSchema } from './program/schema.js';

const EXIT_HELP = `
Exit codes:
  0  success; with --detailed-exitcode: no changes and no drift
  1  error: invalid config, unreachable host, refused or stale plan, failed apply
  2  with --detailed-exitcode: the plan has changes or reports drift
  lvchain check exits as a Nagios plugin: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN

Environment:
  NO_COLOR                 disable colour (also --no-color; colour is off when stdout is not a terminal)
  LVCHAIN_IN_AUTOMATION    drop "run this next" hints (TF_IN_AUTOMATION works too)

Docs: README.md (quickstart, config reference), schemas/lvchain.schema.json for editors.`;

/** Set by the commands that change storage: they stop after the step in flight. */
let graceful: { controller: AbortController; io: Io } | undefined;
/** False once the reader of stdout went away (`lvchain plan | head -1`). */
let stdoutOpen = true;

/**
 * Ctrl-C (SIGINT) and SIGTERM: a command that changes storage stops after the step in flight,
 * whose processes do not get the terminal's signal (exec/lifetime.ts); a second signal exits
 * at once, ending them first. Any other command exits at once. SIGHUP keeps its default: the
 * terminal is gone, and its hangup reaches the whole process group.
 */
function onSignals(): void {
  const handle = (signal: 'SIGINT' | 'SIGTERM', code: number) => () => {
    if (graceful === undefined || graceful.controller.signal.aborted) {
      stopChildren();
      process.exit(code);
    }
    graceful.io.err(
      signal === 'SIGINT'
        ? '\nInterrupt received. Stopping after the current step; press Ctrl-C again to quit at once (the operation can be resumed).'
        : '\nSIGTERM received. Stopping after the current step; a second SIGTERM quits at once (the operation can be resumed).',
    );
    graceful.controller.abort();
  };
  process.on('SIGINT', handle('SIGINT', 130));
  process.on('SIGTERM', handle('SIGTERM', 143));
  // The reader went away: a read-only command is done (exit 0, like `git log | head`); a
  // command that changes storage finishes its step as on Ctrl-C, with its report unseen.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stdoutOpen = false;
    if (graceful === undefined) {
      stopChildren();
      process.exit(0);
    }
    graceful.controller.abort('the reader of the output went away');
  });
}

function interruptSignal(io: Io): AbortSignal {
  graceful = { controller: new AbortController(), io };
  return graceful.controller.signal;
}

async function main(argv: string[]): Promise<number> {
  onSignals();
  let code = 0;
  const program = new Command();
  const wiring: Wiring = {
    run: async (fn: (g: GlobalOptions, io: Io) => Promise<number>) => {
      const g = globals(program);
      code = await fn(
        g,
        makeIo(g.color, g.commandLog, () => stdoutOpen),
      );
    },
    interruptSignal,
  };
  program
    .name('lvchain')
    .description(
      'Declarative qcow2 snapshot chains on thick LVM and directories, in the Proxmox VE 9 layout.\nDeclare disks, snapshots and retention in YAML; plan shows the diff against the real chains; apply executes it crash-safely.',
    )
    .version(LVCHAIN_VERSION)
    .option('-c, --config <file>', 'config file', 'lvchain.yaml')
    .option('--no-color', 'disable colour')
    .option(
      '--command-log <file>',
      'append every command run (argv, host, exit code, duration) to FILE as NDJSON',
    )
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_HELP);
  for (const add of [
    addValidate,
    addPlan,
    addApply,
    addShow,
    addList,
    addRollback,
    addImport,
    addReconcile,
    addForceUnlock,
    addCheck,
    addSchema,
  ])
    add(program, wiring);

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 3 && stdoutOpen) process.stdout.write(`LVCHAIN UNKNOWN - ${e.message}\n`);
      return e.exitCode;
    }
    const g = globals(program);
    const st = styleFor(g.color);
    if (e instanceof ConfigError) {
      for (const issue of e.issues)
        process.stderr.write(`${renderDiagnostic({ severity: 'error', summary: formatIssue(issue) }, st)}\n`);
      process.stderr.write(`${e.issues.length} problem(s) in the config; nothing was changed.\n`);
      return 1;
    }
    if (isLvchainError(e)) {
      process.stderr.write(`${renderDiagnostic({ severity: 'error', summary: e.message }, st, e.hints)}\n`);
      return 1;
    }
    process.stderr.write(
      `${renderDiagnostic({ severity: 'error', summary: `internal error: ${e instanceof Error ? e.message : String(e)}`, detail: 'This is a bug in lvchain. Set LVCHAIN_DEBUG=1 for the stack trace.' }, st)}\n`,
    );
    if (process.env['LVCHAIN_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
  return code;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`fatal: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
