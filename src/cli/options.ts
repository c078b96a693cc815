/** Options that several commands take, defined once so their help reads the same everywhere. */
import { Option, type Command } from 'commander';
import { collect, parseDirection, parseInstant, parseSeconds } from './parse.js';
import type { FullPlanChoices } from '../pipeline/make-plan.js';

const destroyOption = () =>
  new Option(
    '--allow-destroy',
    'plan the destruction of owned disks that are no longer declared (refused for protect: true)',
  );

const targetOption = () =>
  new Option(
    '--target <address>',
    'limit to disk.<name>, guest.<name> or snapshot.<disk>@<name> (repeatable; exceptional use)',
  )
    .argParser(collect)
    .default([]);

export const nowOption = () =>
  new Option(
    '--now <instant>',
    'evaluate schedules and retention at this instant (ISO 8601), e.g. to preview Sunday 03:00',
  ).argParser(parseInstant);

const mergeOption = () =>
  new Option('--merge-direction <how>', 'auto (cheaper by bytes), commit or stream')
    .argParser(parseDirection)
    .default('auto');

export const massDeleteOption = () =>
  new Option(
    '--allow-mass-delete',
    'accept more deletions than maxDeletesPerRun, or a clock behind the newest snapshot',
  );

export const lockTimeoutOption = () =>
  new Option(
    '--lock-timeout <duration>',
    "wait this long for another run's storage lock (e.g. 30s, 5m); 0 fails at once",
  )
    .argParser(parseSeconds)
    .default(0, '0s');

/** The options that shape a full plan, shared by plan and apply. */
export function addPlanningOptions(command: Command): Command {
  return command
    .addOption(destroyOption())
    .addOption(targetOption())
    .addOption(nowOption())
    .addOption(mergeOption())
    .addOption(massDeleteOption());
}

/** The planning options of plan and apply, as commander parses them. */
export interface PlanningFlags {
  allowDestroy?: boolean;
  target: string[];
  now?: number;
  mergeDirection: 'auto' | 'commit' | 'stream';
  allowMassDelete?: boolean;
}

export function planningOptions(o: PlanningFlags): FullPlanChoices {
  return {
    allowDestroy: Boolean(o.allowDestroy),
    target: o.target,
    ...(o.now !== undefined ? { now: o.now } : {}),
    mergeDirection: o.mergeDirection,
    allowMassDelete: Boolean(o.allowMassDelete),
  };
}
