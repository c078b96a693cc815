import { CommanderError, Option, type Command } from 'commander';
import { checkCommand } from '../../pipeline/check.js';
import type { Wiring } from '../wiring.js';
import { parseInstant } from '../parse.js';

export function addCheck(program: Command, w: Wiring): void {
  program
    .command('check')
    .description(
      'read-only health check: snapshot age against each schedule, chain depth, drift, free space. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios).',
    )
    .option('--json', 'print every check result as JSON')
    .option(
      '--prometheus <file>',
      'write the metrics in the Prometheus text format to FILE, atomically (node_exporter textfile collector); "-" prints them instead',
    )
    .option('-v, --verbose', 'also list the checks that are OK')
    .addOption(
      new Option('--now <instant>', 'judge snapshot ages at this instant (ISO 8601)').argParser(parseInstant),
    )
    // A usage error is UNKNOWN to a monitoring system (exit 1 would read as WARNING).
    .exitOverride((e) => {
      throw e.exitCode === 0 ? e : new CommanderError(3, e.code, e.message.replace(/^error: /, ''));
    })
    .action((o: { json?: boolean; prometheus?: string; verbose?: boolean; now?: number }) =>
      w.run((g, io) =>
        checkCommand(
          g,
          {
            json: Boolean(o.json),
            ...(o.prometheus !== undefined ? { prometheus: o.prometheus } : {}),
            ...(o.now !== undefined ? { now: o.now } : {}),
            verbose: Boolean(o.verbose),
          },
          io,
        ),
      ),
    );
}
