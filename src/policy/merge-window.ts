/**
 * A policy's daily merge window (issue 10 §2): merges are I/O on the SAN, so an admin can keep
 * them to the quiet hours, in the policy's own time zone. A window may cross midnight.
 */
import type { MergeWindow } from '../model/desired.js';
import { localTime } from './calendar.js';

export const MERGE_WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

export function parseMergeWindow(text: string): MergeWindow | undefined {
  const m = MERGE_WINDOW.exec(text);
  if (!m) return undefined;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  return start === end ? undefined : { start, end, text };
}

/** The local wall-clock time at `now` ("14:32"), and whether it lies in the window [start, end). */
export function mergeWindowAt(
  window: MergeWindow,
  now: number,
  timeZone: string,
): { open: boolean; localClock: string } {
  const t = localTime(now, timeZone);
  const minute = t.hour * 60 + t.minute;
  const open =
    window.start < window.end
      ? minute >= window.start && minute < window.end
      : minute >= window.start || minute < window.end;
  return { open, localClock: `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}` };
}
