import { Option, type Command } from 'commander';
import { applyCommand } from '../../pipeline/apply.js';
import type { Wiring } from '../wiring.js';
import { parseDurationOption } from '../parse.js';
import { addPlanningOptions, lockTimeoutOption, planningOptions, type PlanningFlags } from '../options.js';

interface ApplyFlags extends PlanningFlags {
  autoApprove?: boolean;
  json?: boolean;
  lockTimeout: number;
  maxPlanAge: number;
}

export function addApply(program: Command, w: Wiring): void {
  addPlanningOptions(
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
      .option('--json', 'stream NDJSON events instead of text'),
  )
    .addOption(lockTimeoutOption())
    .addOption(
      new Option(
        '--max-plan-age <duration>',
        'refuse a saved plan made for an instant longer ago than this (e.g. 30m, 8h); plans for the future are always refused',
      )
        .argParser(parseDurationOption)
        .default(5 * 60_000, '5m'),
    )
    .action((planfile: string | undefined, o: ApplyFlags) =>
      w.run((g, io) =>
        applyCommand(
          g,
          planfile,
          {
            json: Boolean(o.json),
            autoApprove: Boolean(o.autoApprove) || planfile !== undefined,
            ...planningOptions(o),
            lockTimeoutMs: o.lockTimeout,
            maxPlanAgeMs: o.maxPlanAge,
            signal: w.interruptSignal(io),
          },
          io,
        ),
      ),
    );
}
