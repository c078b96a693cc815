/**
 * The CI outputs of plan and apply: the PR comment Markdown, GitLab's Terraform report, and the
 * GitHub job summary. The CLI reads the environment once (cli/io.ts) and passes `Io.ci` here.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import type { Plan } from '../model/plan.js';
import type { ApplyOutcome } from '../model/events.js';
import { renderPlanMarkdown } from '../render/markdown.js';
import { renderApplyMarkdown } from '../render/markdown-apply.js';
import { renderGitlabReport } from '../render/gitlab.js';
import type { Io } from './io.js';
import { countApplied } from './printer.js';

/**
 * GitHub allows 1 MiB per step summary (in bytes); a plan uses few multi-byte characters, so
 * 300,000 characters stays well inside it.
 */
const STEP_SUMMARY_LIMIT = 300_000;

export interface PlanReportOptions {
  /** Where to write the PR comment Markdown (`--markdown`). */
  markdown?: string;
  /** Where to write GitLab's `{create, update, delete}` report (`--gitlab-report`). */
  gitlabReport?: string;
  /** The config as the user named it: the comment's title and marker. */
  target: string;
}

export async function writePlanReports(plan: Plan, o: PlanReportOptions, io: Io): Promise<void> {
  const runUrl = io.ci?.runUrl;
  const base = { target: o.target, ...(runUrl !== undefined ? { runUrl } : {}) };
  if (o.markdown !== undefined) await writeFile(o.markdown, renderPlanMarkdown(plan, base));
  if (o.gitlabReport !== undefined) await writeFile(o.gitlabReport, `${renderGitlabReport(plan)}\n`);
  if (io.ci?.stepSummary !== undefined)
    await appendFile(
      io.ci.stepSummary,
      `${renderPlanMarkdown(plan, { ...base, maxChars: STEP_SUMMARY_LIMIT })}\n`,
    );
}

export async function writeApplySummary(
  plan: Plan,
  outcome: ApplyOutcome,
  target: string,
  io: Io,
): Promise<void> {
  if (io.ci?.stepSummary === undefined) return;
  await appendFile(
    io.ci.stepSummary,
    `${renderApplyMarkdown(plan, outcome, countApplied(plan, outcome), { target })}\n`,
  );
}
