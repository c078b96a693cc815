import type { Command } from 'commander';
import { schemaCommand } from '../../pipeline/schema.js';
import type { Wiring } from '../wiring.js';

export function addSchema(program: Command, w: Wiring): void {
  program
    .command('schema')
    .description('print the JSON Schema of the config file (or, with --plan, of saved plans)')
    .option('--plan', 'the plan schema instead of the config schema')
    .option('--write <dir>', 'write lvchain.schema.json and plan.schema.json into DIR')
    .action((o: { plan?: boolean; write?: string }) =>
      w.run((_g, io) =>
        schemaCommand({ plan: Boolean(o.plan), ...(o.write !== undefined ? { write: o.write } : {}) }, io),
      ),
    );
}
