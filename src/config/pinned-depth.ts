/** Pinned snapshots share the chain with the policy's, so the depth bound counts both. */
import type { DesiredPolicy } from '../model/desired.js';
import { worstCaseRetained } from '../policy/schedule.js';
import type { WrittenConfig } from './schema.js';
import type { PathIssue } from './path.js';

/** Groups whose pinned and scheduled snapshots together can outgrow maxChainDepth; policies with issues of their own are skipped. */
export function pinnedDepthIssues(
  written: WrittenConfig,
  policies: Record<string, DesiredPolicy>,
  found: readonly PathIssue[],
): PathIssue[] {
  const issues: PathIssue[] = [];
  const groups: [(string | number)[], string | undefined, number][] = [
    ...Object.entries(written.guests ?? {}).map(
      ([n, g]): [(string | number)[], string | undefined, number] => [
        ['guests', n],
        g.policy,
        Object.keys(g.snapshots ?? {}).length,
      ],
    ),
    ...Object.entries(written.disks ?? {}).map(
      ([n, d]): [(string | number)[], string | undefined, number] => [
        ['disks', n],
        d.policy,
        Object.keys(d.snapshots ?? {}).length,
      ],
    ),
  ];
  for (const [path, policyName, pinnedCount] of groups) {
    const policy =
      policyName !== undefined && Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
    if (
      !policy?.schedule ||
      pinnedCount === 0 ||
      found.some((i) => i.path[0] === 'policies' && i.path[1] === policyName)
    )
      continue;
    const worst = worstCaseRetained(
      policy.retention,
      { cron: policy.schedule, timezone: policy.timezone },
      pinnedCount,
    );
    if (worst === 'unbounded' || worst > policy.maxChainDepth) {
      issues.push({
        path: [...path, 'snapshots'],
        message: `with ${pinnedCount} pinned snapshot(s) and policy ${policyName}, the chain can reach ${worst} snapshots, more than maxChainDepth ${policy.maxChainDepth}`,
      });
    }
  }
  return issues;
}
