/** `lvchain list`: every declared disk with its chain, space, newest snapshot and health. Read-only. */
import type { GlobalOptions, Io } from './io.js';
import { observeEstate } from './check.js';
import { estateRows } from '../check/estate.js';
import { renderEstate } from '../render/list.js';

export async function listCommand(
  g: GlobalOptions,
  o: { json: boolean; now?: number },
  io: Io,
): Promise<number> {
  const now = o.now ?? io.clock();
  const { desired, storages, report } = await observeEstate(g, now, io);
  const rows = estateRows(desired, storages, report);
  io.out(
    o.json
      ? JSON.stringify({ now: new Date(now).toISOString(), disks: rows }, null, 2)
      : renderEstate(rows, { now, style: io.style }),
  );
  return 0;
}
