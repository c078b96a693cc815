import type { Command } from 'commander';
import { rollbackCommand } from '../../pipeline/rollback.js';
import type { Wiring } from '../wiring.js';
import { lockTimeoutOption } from '../options.js';

interface RollbackFlags {
  discardNewer?: boolean;
  autoApprove?: boolean;
  planOnly?: boolean;
  lockTimeout: number;
  json?: boolean;
}

export function addRollback(program: Command, w: Wiring): void {
  program
    .command('rollback')
    .argument('<guest|disk>', 'a guest (all its disks roll back together) or a disk')
    .argument('<snapshot>', 'snapshot to roll back to')
    .description(
      'discard what a guest or disk holds since a snapshot and continue from it. A guest rolls back all its disks as one group. Shows a plan, with the size each disk returns to, and asks first.',
    )
    .option('--discard-newer', 'also drop snapshots newer than the target, without merging (irreversible)')
    .option('--auto-approve', 'skip the interactive approval')
    .option('--plan-only', 'show the rollback plan and exit 2 without changing anything')
    .option('--json', 'stream NDJSON events instead of text')
    .addOption(lockTimeoutOption())
    .action((name: string, snapshot: string, o: RollbackFlags) =>
      w.run((g, io) =>
        rollbackCommand(
          g,
          name,
          snapshot,
          {
            discardNewer: Boolean(o.discardNewer),
            autoApprove: Boolean(o.autoApprove),
            json: Boolean(o.json),
            planOnly: Boolean(o.planOnly),
            lockTimeoutMs: o.lockTimeout,
            signal: w.interruptSignal(io),
          },
          io,
        ),
      ),
    );
}
