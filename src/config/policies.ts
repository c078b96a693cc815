/** A written policy → DesiredPolicy: time zone, schedule, retention, and whether its chain stays bounded. */
import type { DesiredPolicy, RetentionRules } from '../model/desired.js';
import { parseDuration } from '../base/units.js';
import { closest } from '../base/names.js';
import { isValidTimeZone, validateSchedule, worstCaseRetained } from '../policy/schedule.js';
import type { WrittenPolicy } from './schema.js';
import { parseMergeWindow } from '../policy/merge-window.js';
import type { PathIssue } from './path.js';
import { DEFAULTS } from './defaults.js';

export function policyOf(
  name: string,
  p: WrittenPolicy,
  issues: PathIssue[],
  warnings: PathIssue[],
): DesiredPolicy {
  const path = ['policies', name];
  if (!isValidTimeZone(p.timezone)) {
    issues.push({
      path: [...path, 'timezone'],
      message: `unknown time zone "${p.timezone}"; ${suggestTimeZone(p.timezone)}`,
    });
  } else if (p.schedule !== undefined) {
    const v = validateSchedule({ cron: p.schedule, timezone: p.timezone });
    if (!v.ok) issues.push({ path: [...path, 'schedule'], message: v.message });
  }
  const retention: RetentionRules = {};
  const r = p.retention ?? {};
  for (const key of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    if (r[key] !== undefined) retention[key] = r[key];
  }
  if (r.within !== undefined) {
    const ms = parseDuration(r.within);
    if (typeof ms === 'number') retention.within = ms;
    else issues.push({ path: [...path, 'retention', 'within'], message: ms.error });
  }
  const policy: DesiredPolicy = {
    name,
    timezone: p.timezone,
    retention,
    maxChainDepth: p.maxChainDepth ?? DEFAULTS.maxChainDepth,
    maxDeletesPerRun: p.maxDeletesPerRun ?? DEFAULTS.maxDeletesPerRun,
    ...windowOf(p.mergeWindow),
    ...hooksOf(p.hooks),
    check: {
      warn: p.check?.warn ?? DEFAULTS.checkWarnPeriods,
      crit: p.check?.crit ?? DEFAULTS.checkCritPeriods,
    },
  };
  if (policy.check.crit < policy.check.warn) {
    issues.push({
      path: [...path, 'check', p.check?.crit !== undefined ? 'crit' : 'warn'],
      message: `crit (${policy.check.crit}) must not be below warn (${policy.check.warn}); a snapshot is late before it is critical`,
    });
  }
  if (p.schedule !== undefined) policy.schedule = p.schedule;
  if (p.adopt !== undefined) policy.adopt = p.adopt;
  if (p.schedule === undefined && Object.keys(retention).length === 0) {
    warnings.push({
      path,
      message: 'this policy has neither a schedule nor retention rules; it does nothing',
    });
  }
  // Without a schedule the policy never takes snapshots, so only pinned ones can deepen the chain.
  const valid = issues.every((i) => i.path[0] !== 'policies' || i.path[1] !== name);
  if (valid && policy.schedule !== undefined) {
    const worst = worstCaseRetained(
      retention,
      policy.schedule !== undefined ? { cron: policy.schedule, timezone: policy.timezone } : undefined,
      0,
    );
    if (worst === 'unbounded' || worst > policy.maxChainDepth) {
      issues.push({
        path: [...path, 'retention'],
        message: `this policy can keep ${worst === 'unbounded' ? 'an unbounded number of' : `up to ${worst}`} snapshots, more than maxChainDepth ${policy.maxChainDepth}; lower the retention counts or raise maxChainDepth`,
      });
    }
  }
  return policy;
}

/** `did you mean "Europe/Berlin"?` for a near-miss time zone name, else what to write. */
function suggestTimeZone(name: string): string {
  const best = closest(name, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return best !== undefined ? `did you mean "${best}"?` : 'use an IANA name such as Europe/Berlin or UTC';
}

/** The schema has checked the text. */
function windowOf(text: string | undefined): Pick<DesiredPolicy, 'mergeWindow'> {
  const w = text === undefined ? undefined : parseMergeWindow(text);
  return w ? { mergeWindow: w } : {};
}

const DEFAULT_HOOK_TIMEOUT_MS = 60_000;

function hooksOf(h: WrittenPolicy['hooks']): Pick<DesiredPolicy, 'hooks'> {
  if (!h || (h.preSnapshot === undefined && h.postSnapshot === undefined)) return {};
  const t = h.timeout === undefined ? undefined : /^(\d+)(s|m)$/.exec(h.timeout);
  const timeoutMs = t ? Number(t[1]) * (t[2] === 'm' ? 60_000 : 1000) : DEFAULT_HOOK_TIMEOUT_MS;
  return {
    hooks: {
      ...(h.preSnapshot ? { pre: [...h.preSnapshot] } : {}),
      ...(h.postSnapshot ? { post: [...h.postSnapshot] } : {}),
      timeoutMs,
    },
  };
}
