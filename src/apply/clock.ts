/**
 * The instants that commands changing storage act at (DESIGN §9). Snapshots are stamped with
 * them, so one ahead of the clock stops schedules and retention until the clock catches up; past
 * instants stay allowed, for simulations and tests.
 */
import type { Plan } from '../model/plan.js';
import { isoSeconds } from '../model/instant.js';
import { CLOCK_SKEW_TOLERANCE_MS, formatDuration } from '../plan/retention.js';
import { LvchainError } from '../errors.js';
import { refuse } from './saved-plan.js';

/** `apply --now` and `reconcile --now`: at most the clock-skew tolerance ahead of the real clock. */
export function checkNowOption(command: string, now: number | undefined, clock: number): void {
  if (now === undefined || now <= clock + CLOCK_SKEW_TOLERANCE_MS) return;
  throw new LvchainError(
    'usage',
    `${command} --now ${isoSeconds(now)} is ahead of this machine's clock (${isoSeconds(clock)}) by more than ${formatDuration(CLOCK_SKEW_TOLERANCE_MS)}: ${command} would stamp snapshots in the future`,
    { hints: ['Use "lvchain plan --now" or "lvchain check --now" to preview a future instant.'] },
  );
}

/**
 * A plan applies at about the instant it was made for: snapshots are stamped with it and
 * retention is judged at it. A plan for the future would stamp snapshots ahead of the clock (and
 * stop schedules and retention until then); an old one would stamp stale ones.
 */
export function checkPlanInstant(file: string, plan: Plan, now: number, maxAgeMs: number): void {
  const at = Date.parse(plan.timestamp);
  const shown = `${file} was made for ${plan.timestamp}, and it is now ${isoSeconds(now)}`;
  if (at > now + CLOCK_SKEW_TOLERANCE_MS)
    throw refuse(
      `Saved plan refused: ${shown}: a plan for an instant more than ${formatDuration(CLOCK_SKEW_TOLERANCE_MS)} ahead of the clock is never applied`,
    );
  if (at < now - maxAgeMs)
    throw refuse(`Saved plan refused: ${shown}, more than --max-plan-age (${formatDuration(maxAgeMs)}) ago`, [
      'A plan stamps its snapshots and judges retention at the instant it was made for.',
      'Pass --max-plan-age with a longer duration to accept it, or run "lvchain plan --out FILE" again.',
    ]);
}
