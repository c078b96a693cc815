import type { Command } from 'commander';
import { importCommand } from '../../pipeline/import.js';
import type { Wiring } from '../wiring.js';
import { lockTimeoutOption } from '../options.js';

export function addImport(program: Command, w: Wiring): void {
  program
    .command('import')
    .argument('<storage>', 'the volume group or directory storage that holds the chain')
    .argument('<disk>', 'disk name, e.g. vm-401-disk-0')
    .description(
      "adopt a chain made by Proxmox VE 9 (or in its layout): check it and add lvchain's metadata, changing nothing else",
    )
    .option('--auto-approve', 'skip the interactive approval')
    .addOption(lockTimeoutOption())
    .action((storage: string, disk: string, o: { autoApprove?: boolean; lockTimeout: number }) =>
      w.run((g, io) =>
        importCommand(
          g,
          storage,
          disk,
          { autoApprove: Boolean(o.autoApprove), json: false, lockTimeoutMs: o.lockTimeout },
          io,
        ),
      ),
    );
}
