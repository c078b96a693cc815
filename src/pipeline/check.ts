/**
 * `lvchain check`: a read-only health check for Nagios, scripts and Prometheus (issue 4 §6).
 *
 * It observes every storage as plan does, and reads the qcow2 headers of every disk as well
 * (one batch per storage), since finding drift is its point; as everywhere outside apply, it
 * never activates an LV, so an inactive chain is reported as not verified. On LVM it also runs
 * `qemu-img measure` for the virtual sizes it finds (one batch, no storage touched): the size
 * check compares each LV with what its qcow2 can need, and an estimate could report drift that
 * is not there. Anything that stops the check from looking is UNKNOWN (exit 3), never an error
 * exit 1, which a Nagios host reads as WARNING.
 */
import { writeFileAtomically } from '../exec/atomic-file.js';
import type { GlobalOptions, Io } from './io.js';
import { Session } from './session.js';
import { DEFAULTS } from '../config/defaults.js';
import { isLvchainError } from '../base/errors.js';
import type { HealthReport, StorageObservation } from '../check/report.js';
import { messageOf, unknownResult } from '../check/unknown.js';
import { overallStatus } from '../check/report.js';
import { EXIT_CODES } from '../check/status.js';
import { assessHealth } from '../check/assess.js';
import { sizesToMeasure } from '../check/measure.js';
import { oneLine } from '../base/text.js';
import { renderCheckJson, renderNagios } from '../render/check.js';
import { renderPrometheus } from '../render/prometheus.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import { disksOn } from '../model/on-storage.js';
import type { Desired } from '../model/desired.js';

export interface CheckOptions {
  json: boolean;
  /** A file to write the Prometheus textfile to, or `-` for stdout. */
  prometheus?: string;
  now?: number;
  verbose: boolean;
}

export async function checkCommand(g: GlobalOptions, o: CheckOptions, io: Io): Promise<number> {
  if (o.json && o.prometheus === '-') {
    io.out('LVCHAIN UNKNOWN - --json and --prometheus - both write to stdout; give --prometheus a file');
    return EXIT_CODES.UNKNOWN;
  }
  const now = o.now ?? io.clock();
  let report: HealthReport;
  try {
    report = await assess(g, now, io);
  } catch (e) {
    report = { now, status: 'UNKNOWN', results: [unknownResult('run', e)] };
  }
  if (o.prometheus !== undefined && o.prometheus !== '-') {
    try {
      // node_exporter's textfile collector reads `*.prom` whenever it is scraped: never a half file.
      await writeFileAtomically(o.prometheus, renderPrometheus(report));
    } catch (e) {
      const results = [...report.results, unknownResult('output', e, `cannot write ${o.prometheus}`)];
      report = { ...report, results, status: overallStatus(results) };
    }
  }
  if (o.prometheus === '-') io.out(renderPrometheus(report).replace(/\n$/, ''));
  else if (o.json) io.out(renderCheckJson(report, LVCHAIN_VERSION));
  else for (const line of renderNagios(report, { verbose: o.verbose })) io.out(line);
  return EXIT_CODES[report.status];
}

async function assess(g: GlobalOptions, now: number, io: Io): Promise<HealthReport> {
  return (await observeEstate(g, now, io)).report;
}

/** Every storage observed as `check` does, and the health of what was found. Read-only. */
export async function observeEstate(
  g: GlobalOptions,
  now: number,
  io: Io,
): Promise<{ desired: Desired; storages: Record<string, StorageObservation>; report: HealthReport }> {
  const session = await Session.open(g.config, io.onCommand ? { onCommand: io.onCommand } : {});
  try {
    const names = Object.keys(session.desired.storages).sort();
    const observed = await Promise.all(names.map((name) => observeStorage(session, name)));
    const storages = Object.fromEntries(names.map((name, i) => [name, observed[i] as StorageObservation]));
    const report = assessHealth({
      desired: session.desired,
      storages,
      now,
      defaultMaxChainDepth: DEFAULTS.maxChainDepth,
    });
    return { desired: session.desired, storages, report };
  } finally {
    await session.close();
  }
}

/** One storage's observation with every header it can read; a failure is that storage's alone. */
async function observeStorage(session: Session, name: string): Promise<StorageObservation> {
  try {
    const backend = session.backend(name);
    const declared = disksOn(session.desired, name).map((d) => d.name);
    const observed = await backend.observe({ disks: declared });
    if (observed.exists) {
      await backend.readHeaders(observed, Object.keys(observed.disks).sort());
      const sizes = sizesToMeasure(observed);
      if (sizes.length > 0) await backend.measure(observed, sizes);
    }
    return { ok: true, observed };
  } catch (e) {
    return { ok: false, error: oneLine(messageOf(e)), code: isLvchainError(e) ? e.code : 'internal' };
  }
}
