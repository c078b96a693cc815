import type { CommandResult } from '../exec/executor.js';
import type { ObservedStorage } from '../model/observed.js';
import { parseProbe } from '../apply/lock.js';

/** The lock probe's answer as an observation: who holds the storage's lock, if anyone. */
export function lockState(probe: CommandResult): Pick<ObservedStorage, 'lockHeldBy'> {
  if (probe.failed) return {};
  const held = parseProbe(probe.stdout);
  if (held === undefined) return {};
  if (held === 'held-unknown') return { lockHeldBy: 'unknown' };
  return { lockHeldBy: { id: held.id, operation: held.operation, who: held.who, created: held.created } };
}
