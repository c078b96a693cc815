import type { Command } from 'commander';
import { planCommand } from '../../pipeline/plan.js';
import type { Wiring } from '../wiring.js';
import { addPlanningOptions, planningOptions, type PlanningFlags } from '../options.js';

interface PlanFlags extends PlanningFlags {
  out?: string;
  json?: boolean;
  detailedExitcode?: boolean;
  markdown?: string;
  gitlabReport?: string;
}

export function addPlan(program: Command, w: Wiring): void {
  addPlanningOptions(
    program
      .command('plan')
      .description(
        'observe the storage and show what apply would change, with reasons, steps, bytes to copy and free space. Changes nothing.',
      )
      .option('--out <file>', 'save the plan, to apply exactly it later with "lvchain apply FILE"')
      .option('--json', 'stream NDJSON events instead of text')
      .option('--detailed-exitcode', 'exit 0 for no changes, 1 for errors, 2 for changes or drift')
      .option('--markdown <file>', 'also write the plan as a pull-request comment (Markdown) to FILE')
      .option(
        '--gitlab-report <file>',
        "also write GitLab's Terraform report {create, update, delete} to FILE",
      ),
  ).action((o: PlanFlags) =>
    w.run((g, io) =>
      planCommand(
        g,
        {
          ...(o.out !== undefined ? { out: o.out } : {}),
          json: Boolean(o.json),
          detailedExitcode: Boolean(o.detailedExitcode),
          ...(o.markdown !== undefined ? { markdown: o.markdown } : {}),
          ...(o.gitlabReport !== undefined ? { gitlabReport: o.gitlabReport } : {}),
          ...planningOptions(o),
        },
        io,
      ),
    ),
  );
}
