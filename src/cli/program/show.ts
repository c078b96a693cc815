import type { Command } from 'commander';
import { showCommand } from '../../pipeline/show.js';
import type { Wiring } from '../wiring.js';

export function addShow(program: Command, w: Wiring): void {
  program
    .command('show')
    .argument('<disk>', 'disk name, e.g. vm-401-disk-0')
    .description(
      "draw a disk's chain as a tree: layer, snapshot name, created time, bytes allocated. Read-only.",
    )
    .option('--json', 'print the observed layers as JSON')
    .action((disk: string, o: { json?: boolean }) =>
      w.run((g, io) => showCommand(g, disk, { json: Boolean(o.json) }, io)),
    );
}
