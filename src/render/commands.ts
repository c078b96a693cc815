/**
 * How a planned step's commands read in text output: an argv as a shell would read it, a QMP
 * message as its JSON, a fallback with the condition it runs on. In-process metadata writes are
 * left to the step's description, as they always were.
 */
import { displayArgv } from '../base/quote.js';
import type { FallbackCondition, PlannedCommand } from '../model/plan.js';

const FALLBACK_WHEN: Record<FallbackCondition, string> = {
  zeroout_refused: 'only if the device refuses BLKZEROOUT',
};

export function commandLines(commands: readonly PlannedCommand[]): string[] {
  return commands.flatMap((c) => {
    switch (c.kind) {
      case 'argv':
        return [`${displayArgv(c.argv)}${c.fallback_for ? `  (${FALLBACK_WHEN[c.fallback_for.when]})` : ''}`];
      case 'qmp':
        return [`qmp ${c.socket} ${JSON.stringify(c.message)}`];
      case 'in_process':
        return [];
    }
  });
}
