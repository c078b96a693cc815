/**
 * Nagios statuses and how results combine. The run's status is the worst of them, in the order
 * the monitoring-plugins library uses (`max_state_alt`): CRITICAL > UNKNOWN > WARNING > OK. A
 * known problem outranks "could not look", and "could not look" outranks a warning, because
 * what was not seen may be worse.
 */
export type HealthStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** Nagios plugin exit codes. */
export const EXIT_CODES: Readonly<Record<HealthStatus, 0 | 1 | 2 | 3>> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

/** Severity order for combining results (monitoring-plugins `max_state_alt`). */
const RANK: Readonly<Record<HealthStatus, number>> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

export function worse(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[b] > RANK[a] ? b : a;
}

export function severityRank(s: HealthStatus): number {
  return RANK[s];
}
