/**
 * `lvchain reconcile`: the loop a timer runs (DESIGN §7). Under the storage locks, it takes the
 * snapshots that are due, prunes what retention lets go, and finishes interrupted operations:
 * nothing else, and without asking. If taking a snapshot fails, pruning runs again in
 * conservative mode (count rules only) without new snapshots, so a broken snapshot pipeline
 * cannot age history away. One line sums it up; any failure exits non-zero.
 */
import type { GlobalOptions, Io } from './io.js';
import { openSession, type Session } from './session.js';
import { makePlan } from './make-plan.js';
import type { Plan, ResourceChange } from '../model/plan.js';
import type { ApplyOutcome } from '../model/events.js';
import { applyPlan } from '../apply/apply.js';
import { printer } from './printer.js';
import { lockRequest, withStorageLocks } from './locks.js';
import { renderDiagnostic } from '../render/text.js';
import { checkNowOption } from '../apply/clock.js';

export interface ReconcileOptions {
  json: boolean;
  now?: number;
  lockTimeoutMs: number;
  allowMassDelete: boolean;
  signal?: AbortSignal;
}

interface Tally {
  snapshots: number;
  pruned: number;
  resumed: number;
  failed: number;
  skipped: number;
  refused: number;
  /** Groups whose merges wait for their policy's merge window. */
  waiting: number;
  /** Declared disks that do not exist yet: their groups are neither snapshotted nor pruned. */
  missing: number;
}

export async function reconcileCommand(g: GlobalOptions, o: ReconcileOptions, io: Io): Promise<number> {
  const started = io.clock();
  checkNowOption('reconcile', o.now, started);
  const session = await openSession(g, io);
  const p = printer(io, o.json);
  try {
    const storages = Object.keys(session.desired.storages);
    return await withStorageLocks(
      session,
      storages,
      lockRequest(o, 'reconcile', `reconcile of ${session.desired.source}`),
      io,
      async (locked) => {
        const now = o.now ?? io.clock();
        const base = {
          now,
          mode: 'reconcile' as const,
          allowDestroy: false,
          targets: [],
          mergeDirection: 'auto' as const,
          allowMassDelete: o.allowMassDelete,
          ownLockIds: locked.ids,
        };
        const tally: Tally = {
          snapshots: 0,
          pruned: 0,
          resumed: 0,
          failed: 0,
          skipped: 0,
          refused: 0,
          waiting: 0,
          missing: 0,
        };
        // Create, then prune: pruning is decided only once this run's snapshots are known.
        const first = await makePlan(session, { ...base, skipRetention: true });
        if (blocked(first.plan)) {
          report(first.plan, io, o.json);
          return finish(tally, started, io, o.json, 'refused');
        }
        const creates = first.plan.resource_changes.filter((c) => c.operation.op !== 'delete');
        const outcome = await run(
          session,
          { ...first.plan, resource_changes: creates },
          first.observed,
          locked.signal,
          p,
          o.json,
        );
        count(creates, outcome, tally);
        if (outcome.interrupted) return finish(tally, started, io, o.json, 'interrupted');
        const snapshotFailed = outcome.failed.some((f) =>
          creates.some((c) => c.address === f.address && c.operation.op === 'snapshot'),
        );
        if (snapshotFailed) {
          const note =
            'A snapshot failed: pruning in conservative mode (count rules only), so history cannot age away.';
          if (o.json) p.message(note);
          else io.err(note);
        }
        const second = await makePlan(session, {
          ...base,
          skipSchedules: true,
          conservativeRetention: snapshotFailed,
        });
        for (const d of second.plan.diagnostics.filter((x) => x.severity !== 'info'))
          if (!o.json) io.err(renderDiagnostic(d, io.style));
        tally.refused += refusals(second.plan);
        tally.missing += second.plan.diagnostics.filter((d) => d.code === 'disk_missing').length;
        tally.waiting += second.plan.diagnostics.filter((d) => d.code === 'merge_window_closed').length;
        let pruneOutcome: ApplyOutcome | undefined;
        if (!blocked(second.plan)) {
          const prunes = second.plan.resource_changes;
          pruneOutcome = await run(session, second.plan, second.observed, locked.signal, p, o.json);
          count(prunes, pruneOutcome, tally);
        } else report(second.plan, io, o.json);
        return finish(
          tally,
          started,
          io,
          o.json,
          pruneOutcome?.interrupted ? 'interrupted' : blocked(second.plan) ? 'refused' : undefined,
        );
      },
    );
  } finally {
    await session.close();
  }
}

/** Errors other than a retention refusal (capacity, a missing VG) stop the whole run. */
function blocked(plan: Plan): boolean {
  return plan.diagnostics.some((d) => d.severity === 'error' && d.code !== 'retention_refused');
}

function refusals(plan: Plan): number {
  return plan.diagnostics.filter((d) => d.code === 'retention_refused').length;
}

async function run(
  session: Session,
  plan: Plan,
  observed: Parameters<typeof applyPlan>[1]['observed'],
  signal: AbortSignal,
  p: ReturnType<typeof printer>,
  json: boolean,
): Promise<ApplyOutcome> {
  if (plan.resource_changes.length === 0) return { applied: [], failed: [], skipped: [], interrupted: false };
  return applyPlan(plan, {
    desired: session.desired,
    observed,
    backend: (s) => session.backend(s),
    onEvent: (e) => {
      if (json || e.type === 'apply_errored' || e.type === 'change_skipped') p.event(e);
    },
    signal,
  });
}

function count(changes: readonly ResourceChange[], outcome: ApplyOutcome, t: Tally): void {
  const done = [...outcome.applied];
  const take = (c: ResourceChange) => {
    const i = done.indexOf(c.address);
    if (i < 0) return false;
    done.splice(i, 1);
    return true;
  };
  for (const c of changes) {
    if (!take(c)) continue;
    if (c.operation.op === 'snapshot') t.snapshots++;
    else if (c.operation.op === 'delete') t.pruned++;
    else t.resumed++;
  }
  t.failed += outcome.failed.length;
  t.skipped += outcome.skipped.length;
}

function report(plan: Plan, io: Io, json: boolean): void {
  if (json) printer(io, true).plan(plan);
  else
    for (const d of plan.diagnostics.filter((x) => x.severity === 'error'))
      io.err(renderDiagnostic(d, io.style));
}

function finish(t: Tally, started: number, io: Io, json: boolean, stop?: 'refused' | 'interrupted'): number {
  const failed = t.failed > 0 || t.refused > 0 || t.missing > 0 || stop !== undefined;
  const seconds = ((io.clock() - started) / 1000).toFixed(1);
  const line =
    `lvchain reconcile ${stop ?? (failed ? 'failed' : 'ok')}: ${t.snapshots} snapshot(s) taken, ${t.pruned} pruned, ${t.resumed} resumed` +
    (t.failed > 0 ? `, ${t.failed} failed` : '') +
    (t.skipped > 0 ? `, ${t.skipped} skipped` : '') +
    (t.refused > 0 ? `, retention refused for ${t.refused} group(s)` : '') +
    (t.waiting > 0 ? `, merges of ${t.waiting} group(s) wait for their merge window` : '') +
    (t.missing > 0 ? `, ${t.missing} declared disk(s) not created` : '') +
    ` (${seconds}s)`;
  if (json) {
    io.out(
      JSON.stringify({
        '@level': failed ? 'error' : 'info',
        '@message': line,
        '@module': 'lvchain',
        '@timestamp': new Date(io.clock()).toISOString(),
        type: 'reconcile_summary',
        reconcile: { ...t, ok: !failed },
      }),
    );
  } else (failed ? io.err : io.out)(line);
  return failed ? 1 : 0;
}
