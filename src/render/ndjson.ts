/**
 * Machine-readable streaming output for `--json` runs, one JSON object per line, in the shape
 * of Terraform's `-json` UI (reference gitops-conventions §1.6).
 */
import type { Diagnostic, Plan } from '../model/plan.js';
import type { ApplyEvent } from '../model/events.js';
import { LVCHAIN_VERSION } from '../base/version.js';
import { planSummaryLine } from './summary.js';
import { progressFigures, type StepProgress } from './progress.js';

export const UI_VERSION = '1.0';

export interface NdjsonWriter {
  write(
    type: string,
    message: string,
    fields?: Record<string, unknown>,
    level?: 'info' | 'warn' | 'error',
  ): void;
}

export function ndjsonWriter(out: (line: string) => void, clock: () => number): NdjsonWriter {
  return {
    write(type, message, fields = {}, level = 'info') {
      out(
        JSON.stringify({
          '@level': level,
          '@message': message,
          '@module': 'lvchain',
          '@timestamp': new Date(clock()).toISOString(),
          type,
          ...fields,
        }),
      );
    },
  };
}

export function writeVersion(w: NdjsonWriter): void {
  w.write('version', `lvchain ${LVCHAIN_VERSION}`, { lvchain: LVCHAIN_VERSION, ui: UI_VERSION });
}

export function writeDiagnostic(w: NdjsonWriter, d: Diagnostic): void {
  w.write(
    'diagnostic',
    `${d.severity === 'error' ? 'Error' : d.severity === 'warning' ? 'Warning' : 'Note'}: ${d.summary}`,
    { diagnostic: d },
    d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warn' : 'info',
  );
}

export function writePlan(w: NdjsonWriter, plan: Plan): void {
  for (const d of plan.resource_drift) w.write('resource_drift', `${d.address}: drift`, { drift: d }, 'warn');
  for (const c of plan.resource_changes) {
    w.write('planned_change', `${c.address}: Plan to ${c.change.actions.join(' and ')}`, {
      change: {
        resource: { addr: c.address, resource_type: c.type, resource_name: c.name, storage: c.storage },
        action: actionWord(c.change.actions),
        reason: c.action_reason,
        steps: c.x_steps.length,
        ...(c.x_estimate ? { estimate: c.x_estimate } : {}),
      },
    });
  }
  for (const d of plan.diagnostics) writeDiagnostic(w, d);
  const s = plan.summary;
  w.write('change_summary', planSummaryLine(s), {
    changes: {
      add: s.add,
      change: s.change,
      remove: s.destroy,
      merge: s.merge,
      operation: 'plan',
      bytes_to_copy: s.bytes_to_copy,
      ...(s.bytes_to_zero ? { bytes_to_zero: s.bytes_to_zero } : {}),
      ...(s.time_estimate ? { time_estimate: s.time_estimate } : {}),
    },
  });
}

function actionWord(actions: readonly string[]): string {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  if (actions.includes('create')) return 'create';
  if (actions.includes('delete')) return 'delete';
  if (actions.includes('update')) return 'update';
  return 'noop';
}

export function writeApplyEvent(w: NdjsonWriter, e: ApplyEvent): void {
  const { type, address, ...rest } = e;
  const message = {
    apply_start: `${address}: Modifying...`,
    step_start: `${address}: step ${'index' in e ? e.index + 1 : ''} started`,
    step_progress: `${address}: ${'fraction' in e ? Math.round(e.fraction * 100) : 0}%`,
    step_complete: `${address}: step ${'index' in e ? e.index + 1 : ''} complete`,
    apply_complete: `${address}: Modifications complete`,
    apply_errored: `${address}: ${'message' in e ? e.message : 'failed'}`,
    change_skipped: `${address}: skipped`,
    steps_adjusted: `${address}: steps recomputed after verification`,
    apply_warning: `${address}: ${'message' in e ? e.message : 'warning'}`,
  }[type];
  w.write(
    type,
    message,
    { hook: { resource: { addr: address }, ...rest } },
    type === 'apply_errored' ? 'error' : type === 'apply_warning' ? 'warn' : 'info',
  );
}

/** A step's progress with the figures a terminal shows: bytes done of the total, rate, time left. */
export function writeStepProgress(w: NdjsonWriter, p: StepProgress): void {
  const f = progressFigures(p);
  w.write('step_progress', `${p.address}: ${f.percent}%`, {
    hook: {
      resource: { addr: p.address },
      index: p.index,
      count: p.count,
      fraction: p.fraction,
      elapsed_ms: Math.round(p.elapsedMs),
      ...(f.bytes !== undefined ? { bytes: f.bytes, bytes_done: f.bytesDone } : {}),
      ...(f.bytesPerSecond !== undefined ? { bytes_per_second: f.bytesPerSecond } : {}),
      ...(f.etaSeconds !== undefined ? { eta_seconds: f.etaSeconds } : {}),
    },
  });
}
