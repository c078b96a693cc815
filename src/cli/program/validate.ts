import type { Command } from 'commander';
import { validateCommand } from '../../pipeline/validate.js';
import type { Wiring } from '../wiring.js';

export function addValidate(program: Command, w: Wiring): void {
  program
    .command('validate')
    .description(
      'check the config file: syntax, schema, references, names, time zones, cron, chain depth. Touches no host.',
    )
    .option('--json', 'print the result as JSON')
    .action((o: { json?: boolean }) => w.run((g, io) => validateCommand(g, { json: Boolean(o.json) }, io)));
}
