#!/usr/bin/env node
/**
 * The lvchain command line. Wiring only: parse options, build the Io, call a command, and
 * turn its result or error into an exit code. Nothing else in lvchain exits the process.
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import type { GlobalOptions, Io } from './context.js';
import { styleFor } from './context.js';
import { collect, parseDirection, parseDurationOption, parseInstant, parseSeconds } from './parse.js';
import { ConfigError, formatIssue, isLvchainError } from '../base/errors.js';
import { renderDiagnostic } from '../render/text.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import { planCommand } from './commands/plan.js';
import { applyCommand } from './commands/apply.js';
import { validateCommand } from './commands/validate.js';
import { showCommand } from './commands/show.js';
import { rollbackCommand } from './commands/rollback.js';
import { schemaCommand } from './commands/schema.js';
import { importCommand } from './commands/import.js';
import { checkCommand } from './commands/check.js';
import { reconcileCommand } from './commands/reconcile.js';
import { forceUnlockCommand } from './commands/force-unlock.js';
import { ciFromEnv } from './reports.js';
import { stopChildren } from '../exec/lifetime.js';

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

function makeIo(color: boolean, commandLog: string | undefined): Io {
  const io: Io = {
    out: (t) => void (stdoutOpen && process.stdout.write(`${t}\n`)),
    err: (t) => void process.stderr.write(`${t}\n`),
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
  if (commandLog !== undefined) {
    // Appended synchronously, line by line, so the log survives a killed process.
    io.onCommand = (e) =>
      appendFileSync(commandLog, `${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
  }
  return io;
}

function globals(program: Command): GlobalOptions {
  const o = program.opts<{ config: string; color: boolean; commandLog?: string }>();
  const color = o.color && !process.env['NO_COLOR'] && Boolean(process.stdout.isTTY);
  return { config: o.config, color, ...(o.commandLog !== undefined ? { commandLog: o.commandLog } : {}) };
}

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
  const run = (fn: (g: GlobalOptions, io: Io) => Promise<number>) => async () => {
    const g = globals(program);
    code = await fn(g, makeIo(g.color, g.commandLog));
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

  const destroyOpt = () =>
    new Option(
      '--allow-destroy',
      'plan the destruction of owned disks that are no longer declared (refused for protect: true)',
    );
  const targetOpt = () =>
    new Option(
      '--target <address>',
      'limit to disk.<name>, guest.<name> or snapshot.<disk>@<name> (repeatable; exceptional use)',
    )
      .argParser(collect)
      .default([]);
  const nowOpt = () =>
    new Option(
      '--now <instant>',
      'evaluate schedules and retention at this instant (ISO 8601), e.g. to preview Sunday 03:00',
    ).argParser(parseInstant);
  const mergeOpt = () =>
    new Option('--merge-direction <how>', 'auto (cheaper by bytes), commit or stream')
      .argParser(parseDirection)
      .default('auto');
  const massOpt = () =>
    new Option(
      '--allow-mass-delete',
      'accept more deletions than maxDeletesPerRun, or a clock behind the newest snapshot',
    );
  const lockOpt = () =>
    new Option(
      '--lock-timeout <duration>',
      "wait this long for another run's storage lock (e.g. 30s, 5m); 0 fails at once",
    )
      .argParser(parseSeconds)
      .default(0, '0s');

  program
    .command('validate')
    .description(
      'check the config file: syntax, schema, references, names, time zones, cron, chain depth. Touches no host.',
    )
    .option('--json', 'print the result as JSON')
    .action(async (o: { json?: boolean }) =>
      run((g, io) => validateCommand(g, { json: Boolean(o.json) }, io))(),
    );

  program
    .command('plan')
    .description(
      'observe the storage and show what apply would change, with reasons, steps, bytes to copy and free space. Changes nothing.',
    )
    .option('--out <file>', 'save the plan, to apply exactly it later with "lvchain apply FILE"')
    .option('--json', 'stream NDJSON events instead of text')
    .option('--detailed-exitcode', 'exit 0 for no changes, 1 for errors, 2 for changes or drift')
    .option('--markdown <file>', 'also write the plan as a pull-request comment (Markdown) to FILE')
    .option('--gitlab-report <file>', "also write GitLab's Terraform report {create, update, delete} to FILE")
    .addOption(destroyOpt())
    .addOption(targetOpt())
    .addOption(nowOpt())
    .addOption(mergeOpt())
    .addOption(massOpt())
    .action(
      async (o: {
        out?: string;
        json?: boolean;
        detailedExitcode?: boolean;
        markdown?: string;
        gitlabReport?: string;
        allowDestroy?: boolean;
        target: string[];
        now?: number;
        mergeDirection: 'auto' | 'commit' | 'stream';
        allowMassDelete?: boolean;
      }) =>
        run((g, io) =>
          planCommand(
            g,
            {
              ...(o.out !== undefined ? { out: o.out } : {}),
              json: Boolean(o.json),
              detailedExitcode: Boolean(o.detailedExitcode),
              ...(o.markdown !== undefined ? { markdown: o.markdown } : {}),
              ...(o.gitlabReport !== undefined ? { gitlabReport: o.gitlabReport } : {}),
              allowDestroy: Boolean(o.allowDestroy),
              target: o.target,
              ...(o.now !== undefined ? { now: o.now } : {}),
              mergeDirection: o.mergeDirection,
              allowMassDelete: Boolean(o.allowMassDelete),
            },
            io,
          ),
        )(),
    );

  program
    .command('apply')
    .argument(
      '[planfile]',
      'a plan saved with "plan --out"; it is applied only if the storage is unchanged, and only once',
    )
    .description(
      'make the storage match the config: plan, ask for approval, execute. With a plan file, execute exactly that plan.',
    )
    .option('--auto-approve', 'skip the interactive approval')
    .option('--json', 'stream NDJSON events instead of text')
    .addOption(destroyOpt())
    .addOption(targetOpt())
    .addOption(nowOpt())
    .addOption(mergeOpt())
    .addOption(massOpt())
    .addOption(lockOpt())
    .addOption(
      new Option(
        '--max-plan-age <duration>',
        'refuse a saved plan made for an instant longer ago than this (e.g. 30m, 8h); plans for the future are always refused',
      )
        .argParser(parseDurationOption)
        .default(5 * 60_000, '5m'),
    )
    .action(
      async (
        planfile: string | undefined,
        o: {
          autoApprove?: boolean;
          json?: boolean;
          allowDestroy?: boolean;
          target: string[];
          now?: number;
          mergeDirection: 'auto' | 'commit' | 'stream';
          allowMassDelete?: boolean;
          lockTimeout: number;
          maxPlanAge: number;
        },
      ) =>
        run((g, io) =>
          applyCommand(
            g,
            planfile,
            {
              json: Boolean(o.json),
              autoApprove: Boolean(o.autoApprove) || planfile !== undefined,
              allowDestroy: Boolean(o.allowDestroy),
              target: o.target,
              ...(o.now !== undefined ? { now: o.now } : {}),
              mergeDirection: o.mergeDirection,
              allowMassDelete: Boolean(o.allowMassDelete),
              lockTimeoutMs: o.lockTimeout,
              maxPlanAgeMs: o.maxPlanAge,
              signal: interruptSignal(io),
            },
            io,
          ),
        )(),
    );

  program
    .command('show')
    .argument('<disk>', 'disk name, e.g. vm-401-disk-0')
    .description(
      "draw a disk's chain as a tree: layer, snapshot name, created time, bytes allocated. Read-only.",
    )
    .option('--json', 'print the observed layers as JSON')
    .action(async (disk: string, o: { json?: boolean }) =>
      run((g, io) => showCommand(g, disk, { json: Boolean(o.json) }, io))(),
    );

  program
    .command('rollback')
    .argument('<disk>', 'disk name')
    .argument('<snapshot>', 'snapshot to roll back to')
    .description(
      'discard what the disk holds since a snapshot and continue from it. Shows a plan and asks first.',
    )
    .option('--discard-newer', 'also drop snapshots newer than the target, without merging (irreversible)')
    .option('--auto-approve', 'skip the interactive approval')
    .option('--plan-only', 'show the rollback plan and exit 2 without changing anything')
    .option('--json', 'stream NDJSON events instead of text')
    .addOption(lockOpt())
    .action(
      async (
        disk: string,
        snapshot: string,
        o: {
          discardNewer?: boolean;
          autoApprove?: boolean;
          planOnly?: boolean;
          lockTimeout: number;
          json?: boolean;
        },
      ) =>
        run((g, io) =>
          rollbackCommand(
            g,
            disk,
            snapshot,
            {
              discardNewer: Boolean(o.discardNewer),
              autoApprove: Boolean(o.autoApprove),
              json: Boolean(o.json),
              planOnly: Boolean(o.planOnly),
              lockTimeoutMs: o.lockTimeout,
              signal: interruptSignal(io),
            },
            io,
          ),
        )(),
    );

  program
    .command('import')
    .argument('<storage>', 'the volume group or directory storage that holds the chain')
    .argument('<disk>', 'disk name, e.g. vm-401-disk-0')
    .description(
      "adopt a chain made by Proxmox VE 9 (or in its layout): check it and add lvchain's metadata, changing nothing else",
    )
    .option('--auto-approve', 'skip the interactive approval')
    .addOption(lockOpt())
    .action(async (storage: string, disk: string, o: { autoApprove?: boolean; lockTimeout: number }) =>
      run((g, io) =>
        importCommand(
          g,
          storage,
          disk,
          { autoApprove: Boolean(o.autoApprove), json: false, lockTimeoutMs: o.lockTimeout },
          io,
        ),
      )(),
    );

  program
    .command('reconcile')
    .description(
      'the loop a timer runs: take due snapshots, prune what retention lets go, finish interrupted operations. No prompt; one summary line; non-zero on any failure.',
    )
    .option('--json', 'stream NDJSON events instead of text')
    .addOption(nowOpt())
    .addOption(massOpt())
    .addOption(lockOpt())
    .action(async (o: { json?: boolean; now?: number; allowMassDelete?: boolean; lockTimeout: number }) =>
      run((g, io) =>
        reconcileCommand(
          g,
          {
            json: Boolean(o.json),
            ...(o.now !== undefined ? { now: o.now } : {}),
            allowMassDelete: Boolean(o.allowMassDelete),
            lockTimeoutMs: o.lockTimeout,
            signal: interruptSignal(io),
          },
          io,
        ),
      )(),
    );

  program
    .command('force-unlock')
    .argument('<id>', 'the lock ID shown in "Lock Info"')
    .description(
      "release a storage lock whose holder is stuck: ends the holding process on the storage's host",
    )
    .option('--force', 'do not ask for confirmation')
    .action(async (id: string, o: { force?: boolean }) =>
      run((g, io) => forceUnlockCommand(g, id, { force: Boolean(o.force) }, io))(),
    );

  program
    .command('check')
    .description(
      'read-only health check: snapshot age against each schedule, chain depth, drift, free space. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios).',
    )
    .option('--json', 'print every check result as JSON')
    .option(
      '--prometheus <file>',
      'write the metrics in the Prometheus text format to FILE, atomically (node_exporter textfile collector); "-" prints them instead',
    )
    .option('-v, --verbose', 'also list the checks that are OK')
    .addOption(
      new Option('--now <instant>', 'judge snapshot ages at this instant (ISO 8601)').argParser(parseInstant),
    )
    // A usage error is UNKNOWN to a monitoring system (exit 1 would read as WARNING).
    .exitOverride((e) => {
      throw e.exitCode === 0 ? e : new CommanderError(3, e.code, e.message.replace(/^error: /, ''));
    })
    .action(async (o: { json?: boolean; prometheus?: string; verbose?: boolean; now?: number }) =>
      run((g, io) =>
        checkCommand(
          g,
          {
            json: Boolean(o.json),
            ...(o.prometheus !== undefined ? { prometheus: o.prometheus } : {}),
            ...(o.now !== undefined ? { now: o.now } : {}),
            verbose: Boolean(o.verbose),
          },
          io,
        ),
      )(),
    );

  program
    .command('schema')
    .description('print the JSON Schema of the config file (or, with --plan, of saved plans)')
    .option('--plan', 'the plan schema instead of the config schema')
    .option('--write <dir>', 'write lvchain.schema.json and plan.schema.json into DIR')
    .action(async (o: { plan?: boolean; write?: string }) =>
      run((_g, io) =>
        schemaCommand({ plan: Boolean(o.plan), ...(o.write !== undefined ? { write: o.write } : {}) }, io),
      )(),
    );

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
