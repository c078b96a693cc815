/** The shape of a `check` run: one result per check, for people, Nagios, JSON and Prometheus. */
import type { Desired } from '../model/desired.js';
import type { ObservedStorage } from '../model/observed.js';
import type { HealthStatus } from './status.js';
import { worse } from './status.js';

export type CheckName =
  'run' | 'output' | 'storage' | 'space' | 'metadata' | 'schedule' | 'chain' | 'depth' | 'interrupted';

export type CheckValue = number | string | boolean | null | readonly string[];

export interface CheckResult {
  check: CheckName;
  status: HealthStatus;
  /** One line, for people. Nothing may branch on it. */
  message: string;
  storage?: string;
  /** The snapshot group: `guest.<name>`, or `disk.<name>` for a disk outside any guest. */
  group?: string;
  disk?: string;
  /** The figures behind the status, JSON-safe; the Prometheus metrics are read from these. */
  values: Record<string, CheckValue>;
}

export interface HealthReport {
  /** Epoch ms the schedules were evaluated at. */
  now: number;
  status: HealthStatus;
  results: CheckResult[];
}

/** What observing one storage gave: the observation, or why there is none. */
export type StorageObservation =
  { ok: true; observed: ObservedStorage } | { ok: false; error: string; code: string };

export interface HealthInput {
  desired: Desired;
  storages: Readonly<Record<string, StorageObservation>>;
  now: number;
  /** maxChainDepth for disks without a policy (the config default). */
  defaultMaxChainDepth: number;
}

export function overallStatus(results: readonly CheckResult[]): HealthStatus {
  return results.reduce<HealthStatus>((s, r) => worse(s, r.status), 'OK');
}
