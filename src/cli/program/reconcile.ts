import type { Command } from 'commander';
import { reconcileCommand } from '../../pipeline/reconcile.js';
import type { Wiring } from '../wiring.js';
import { lockTimeoutOption, massDeleteOption, nowOption } from '../options.js';

interface ReconcileFlags {
  json?: boolean;
  now?: number;
  allowMassDelete?: boolean;
  lockTimeout: number;
}

export function addReconcile(program: Command, w: Wiring): void {
  program
    .command('reconcile')
    .description(
      'the loop a timer runs: take due snapshots, prune what retention lets go, finish interrupted operations. No prompt; one summary line; non-zero on any failure.',
    )
    .option('--json', 'stream NDJSON events instead of text')
    .addOption(nowOption())
    .addOption(massDeleteOption())
    .addOption(lockTimeoutOption())
    .action((o: ReconcileFlags) =>
      w.run((g, io) =>
        reconcileCommand(
          g,
          {
            json: Boolean(o.json),
            ...(o.now !== undefined ? { now: o.now } : {}),
            allowMassDelete: Boolean(o.allowMassDelete),
            lockTimeoutMs: o.lockTimeout,
            signal: w.interruptSignal(io),
          },
          io,
        ),
      ),
    );
}
