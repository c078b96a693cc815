/**
 * GitLab's Terraform MR widget (`artifacts:reports:terraform`): `{create, update, delete}`
 * integers. Counted the way GitLab's documented jq recipe counts `resource_changes[].change.actions`,
 * so a replace is one create and one delete, and lvchain's plan and GitLab's widget agree.
 */
import type { Plan } from '../model/plan.js';

export interface GitlabReport {
  create: number;
  update: number;
  delete: number;
}

/** GitLab's parser accepts at most six digits. */
const GITLAB_MAX = 999_999;

export function gitlabReport(plan: Plan): GitlabReport {
  const actions = plan.resource_changes.flatMap((c) => c.change.actions);
  const count = (a: string) => Math.min(GITLAB_MAX, actions.filter((x) => x === a).length);
  return { create: count('create'), update: count('update'), delete: count('delete') };
}

export function renderGitlabReport(plan: Plan): string {
  return JSON.stringify(gitlabReport(plan));
}
