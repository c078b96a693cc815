import type { Command } from 'commander';
import { forceUnlockCommand } from '../../pipeline/force-unlock.js';
import type { Wiring } from '../wiring.js';

export function addForceUnlock(program: Command, w: Wiring): void {
  program
    .command('force-unlock')
    .argument('<id>', 'the lock ID shown in "Lock Info"')
    .description(
      "release a storage lock whose holder is stuck: ends the holding process on the storage's host",
    )
    .option('--force', 'do not ask for confirmation')
    .action((id: string, o: { force?: boolean }) =>
      w.run((g, io) => forceUnlockCommand(g, id, { force: Boolean(o.force) }, io)),
    );
}
