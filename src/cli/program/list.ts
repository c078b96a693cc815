import { Option, type Command } from 'commander';
import { listCommand } from '../../pipeline/list.js';
import type { Wiring } from '../wiring.js';
import { parseInstant } from '../parse.js';

export function addList(program: Command, w: Wiring): void {
  program
    .command('list')
    .description(
      'list every declared disk: storage, guest, size, layers in its chain, space allocated, newest snapshot and its age, and its health as `check` judges it (problems under the row). Read-only; exit 0 whatever the health (use `check` to alert).',
    )
    .option('--json', 'print the rows as JSON')
    .addOption(
      new Option('--now <instant>', 'judge snapshot ages at this instant (ISO 8601)').argParser(parseInstant),
    )
    .action((o: { json?: boolean; now?: number }) =>
      w.run((g, io) =>
        listCommand(g, { json: Boolean(o.json), ...(o.now !== undefined ? { now: o.now } : {}) }, io),
      ),
    );
}
