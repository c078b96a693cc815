/** Printing plans and apply progress, as text or NDJSON. */
import type { Plan } from '../model/plan.js';
import { isMergeKind } from '../model/step-kinds.js';
import type { ApplyEvent, ApplyOutcome } from '../model/events.js';
import { renderDiagnostic, renderPlanText } from '../render/text.js';
import type { NdjsonWriter } from '../render/ndjson.js';
import {
  ndjsonWriter,
  writeApplyEvent,
  writePlan,
  writeStepProgress,
  writeVersion,
} from '../render/ndjson.js';
import { formatBytes } from '../base/units.js';
import type { Io } from './io.js';
import { termText } from '../render/escape.js';
import { appliedLine, type AppliedCounts } from '../render/summary.js';
import { countChange } from '../model/plan-summary.js';
import { progressLine } from '../render/progress.js';
import { StepClock } from './step-clock.js';
import { aboutDuration } from '../base/durations.js';

export interface Printer {
  plan(plan: Plan): void;
  event(e: ApplyEvent): void;
  /** `stopped`: why an interrupted run stopped, when it was not Ctrl-C (a lock taken away). */
  outcome(plan: Plan, outcome: ApplyOutcome, stopped?: string): void;
  message(text: string): void;
}

/** Without a terminal, NDJSON progress comes every few seconds per step. */
const PROGRESS_EVERY_MS = 2000;

export function printer(io: Io, json: boolean): Printer {
  if (json) {
    const w: NdjsonWriter = ndjsonWriter(io.out, io.clock);
    writeVersion(w);
    const clock = new StepClock(io.clock);
    const shown = new Map<string, { atMs: number; between: boolean }>();
    return {
      plan: (plan) => {
        clock.plan(plan);
        writePlan(w, plan);
      },
      event: (e) => {
        if (e.type === 'step_start') clock.start(e);
        if (e.type !== 'step_progress') return writeApplyEvent(w, e);
        // A log gets a report every few seconds, not every percent; but always the first one in
        // between 0 and 100 % (scripts stop on it) and the last.
        const key = `${e.address}#${e.index}`;
        const last = shown.get(key);
        const between = e.fraction > 0 && e.fraction < 1;
        if (
          last &&
          e.fraction < 1 &&
          !(between && !last.between) &&
          io.clock() - last.atMs < PROGRESS_EVERY_MS
        )
          return;
        shown.set(key, { atMs: io.clock(), between: (last?.between ?? false) || between });
        writeStepProgress(w, clock.progress(e, e.address));
      },
      outcome: (plan, o, stopped) => {
        const s = countApplied(plan, o);
        const bad = o.failed.length > 0 || o.interrupted;
        w.write(
          'change_summary',
          `Apply ${o.interrupted ? 'interrupted' : bad ? 'failed' : 'complete'}! ${appliedLine(s)}`,
          {
            changes: { add: s.add, change: s.change, remove: s.destroy, merge: s.merge, operation: 'apply' },
            failed: o.failed,
            skipped: o.skipped,
            interrupted: o.interrupted,
            ...(o.interrupted && stopped !== undefined ? { stopped_because: stopped } : {}),
          },
          bad ? 'error' : 'info',
        );
      },
      message: (text) => w.write('log', text),
    };
  }
  const st = io.style;
  const lastFraction = new Map<string, number>();
  const clock = new StepClock(io.clock);
  // The time merges took, for the closing line beside the plan's estimate.
  let mergeMs = 0;
  return {
    plan: (plan) => {
      clock.plan(plan);
      io.out(renderPlanText(plan, { style: st }));
    },
    event: (e) => {
      const address = termText(e.address);
      switch (e.type) {
        case 'apply_start':
          io.out(
            `${address}: ${e.actions.includes('delete') && e.actions.includes('create') ? 'Replacing' : e.actions.includes('create') ? 'Creating' : e.actions.includes('delete') ? 'Destroying' : 'Modifying'}...`,
          );
          break;
        case 'step_start':
          clock.start(e);
          io.out(st.dim(`${address}: [${e.index + 1}/${e.count}] ${termText(e.description)}`));
          break;
        case 'step_progress': {
          const key = `${e.address}#${e.index}`;
          const line = progressLine(clock.progress(e, address));
          // A terminal redraws one line; a log gets a line per 10 % so it stays readable.
          if (io.progress) io.progress(st.dim(line));
          else {
            const tenth = Math.floor(e.fraction * 10);
            if ((lastFraction.get(key) ?? -1) < tenth) {
              lastFraction.set(key, tenth);
              io.out(st.dim(line));
            }
          }
          break;
        }
        case 'step_complete':
          io.progress?.(undefined);
          if (isMergeKind(e.kind)) mergeMs += e.elapsed_ms;
          break;
        case 'apply_complete':
          io.out(`${address}: Complete after ${(e.elapsed_ms / 1000).toFixed(1)}s`);
          break;
        case 'apply_errored':
          io.err(
            renderDiagnostic(
              { severity: 'error', summary: e.message, address: e.address },
              st,
              e.hints ?? [],
            ),
          );
          break;
        case 'change_skipped':
          io.out(st.yellow(`${address}: skipped: ${termText(e.reason)}`));
          break;
        case 'steps_adjusted':
          io.out(st.yellow(`${address}: ${termText(e.reason)}`));
          break;
        case 'apply_warning':
          io.out(st.yellow(`${address}: warning: ${termText(e.message)}`));
          break;
      }
    },
    outcome: (plan, o, stopped) => {
      const s = countApplied(plan, o);
      const line = appliedLine(s);
      if (o.failed.length > 0 || o.interrupted) {
        const why = o.interrupted && stopped !== undefined ? `: ${termText(stopped)}.` : '.';
        io.err(
          st.red(st.bold(`Apply ${o.interrupted ? 'interrupted' : 'failed'}${why}`)) +
            ` ${line}` +
            (o.skipped.length > 0 ? ` ${o.skipped.length} change(s) skipped.` : ''),
        );
        if (!io.automation)
          io.err('Run "lvchain plan" to see what remains; "lvchain apply" resumes interrupted operations.');
      } else {
        io.out(st.green(st.bold(`Apply complete! ${line}`)));
        if (plan.summary.bytes_to_copy > 0) io.out(mergesLine(plan, mergeMs));
      }
    },
    message: (text) => io.out(text),
  };
}

export function countApplied(plan: Plan, o: ApplyOutcome): AppliedCounts {
  // One address can carry several changes (a resume, then a grow): count occurrences.
  const done = new Map<string, number>();
  for (const a of o.applied) done.set(a, (done.get(a) ?? 0) + 1);
  const out = { add: 0, change: 0, destroy: 0, merge: 0 };
  for (const c of plan.resource_changes) {
    const left = done.get(c.address) ?? 0;
    if (left === 0) continue;
    done.set(c.address, left - 1);
    countChange(c, out);
  }
  return out;
}

/** "Merges copied up to 1.0 GiB in 12.3 s; the plan estimated about 10 s." */
function mergesLine(plan: Plan, mergeMs: number): string {
  const estimate = plan.summary.time_estimate;
  return (
    `Merges copied up to ${formatBytes(plan.summary.bytes_to_copy)} in ${(mergeMs / 1000).toFixed(1)} s` +
    (estimate ? `; the plan estimated ${aboutDuration(estimate.seconds)}.` : '.')
  );
}
