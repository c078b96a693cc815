#!/usr/bin/env node
/* global process, console, fetch, URL */
/**
 * CI glue for lvchain's example pipelines (github-actions.yml, gitlab-ci.yml). Node ≥ 20, no
 * dependencies: it only talks to the forge's REST API.
 *
 *   node lvchain-ci.mjs comment plan.md
 *     Create or update the pull-request comment (GitHub) or merge-request note (GitLab) that
 *     holds the plan. The comment is found by the hidden marker on the Markdown's first line,
 *     so each push updates one comment instead of adding another.
 *   node lvchain-ci.mjs fetch-plan plan.json
 *     GitLab only: download the plan.json artifact of the merge request that the current
 *     commit merged (its newest successful pipeline's `plan` job), for `lvchain apply plan.json`.
 *
 * GitHub: GITHUB_TOKEN (pull-requests: write); GITHUB_API_URL, GITHUB_REPOSITORY and
 * GITHUB_EVENT_PATH are set by Actions. A fork's read-only token cannot comment: that is a
 * warning, not a failure, and the job summary still has the plan.
 * GitLab: LVCHAIN_GITLAB_TOKEN, a project access token with the `api` scope (CI_JOB_TOKEN
 * cannot write notes); CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID and CI_COMMIT_SHA
 * are set by GitLab. LVCHAIN_PLAN_JOB names the plan job (default `plan`).
 */
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';

const env = process.env;
const MARKER = /^<!-- lvchain-plan-comment: [^\n]* -->$/;

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function need(name) {
  const v = env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

async function call(method, url, headers, body) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return res;
}

async function json(method, url, headers, body) {
  const res = await call(method, url, headers, body);
  if (!res.ok) {
    const text = await res.text();
    const err = new Error(`${method} ${new URL(url).pathname}: HTTP ${res.status} ${text.slice(0, 300)}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

/** Every item of a paginated list (both forges take per_page and page). */
async function all(url, headers) {
  const out = [];
  for (let page = 1; page < 100; page++) {
    const sep = url.includes('?') ? '&' : '?';
    const items = await json('GET', `${url}${sep}per_page=100&page=${page}`, headers);
    out.push(...items);
    if (items.length < 100) break;
  }
  return out;
}

function github() {
  const api = env.GITHUB_API_URL || 'https://api.github.com';
  const repo = need('GITHUB_REPOSITORY');
  const headers = {
    authorization: `Bearer ${need('GITHUB_TOKEN')}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
  };
  const event = JSON.parse(readFileSync(need('GITHUB_EVENT_PATH'), 'utf8'));
  const number = event.pull_request?.number;
  if (!number) fail('this is not a pull_request event; there is no pull request to comment on');
  return {
    list: () => all(`${api}/repos/${repo}/issues/${number}/comments`, headers),
    create: (body) => json('POST', `${api}/repos/${repo}/issues/${number}/comments`, headers, { body }),
    update: (id, body) => json('PATCH', `${api}/repos/${repo}/issues/comments/${id}`, headers, { body }),
    where: `pull request #${number}`,
  };
}

function gitlab() {
  const api = need('CI_API_V4_URL');
  const project = encodeURIComponent(need('CI_PROJECT_ID'));
  const headers = { 'private-token': need('LVCHAIN_GITLAB_TOKEN') };
  return { api: `${api}/projects/${project}`, headers };
}

function gitlabNotes() {
  const { api, headers } = gitlab();
  const mr = need('CI_MERGE_REQUEST_IID');
  return {
    list: () => all(`${api}/merge_requests/${mr}/notes`, headers),
    create: (body) => json('POST', `${api}/merge_requests/${mr}/notes`, headers, { body }),
    update: (id, body) => json('PUT', `${api}/merge_requests/${mr}/notes/${id}`, headers, { body }),
    where: `merge request !${mr}`,
  };
}

async function comment(file) {
  const body = readFileSync(file, 'utf8');
  const marker = body.split('\n', 1)[0];
  if (!MARKER.test(marker))
    fail(`${file} does not start with an lvchain comment marker; write it with "lvchain plan --markdown"`);
  const forge = env.GITLAB_CI ? gitlabNotes() : github();
  try {
    const existing = (await forge.list()).find(
      (c) => typeof c.body === 'string' && c.body.startsWith(marker),
    );
    if (existing) {
      await forge.update(existing.id, body);
      console.log(`lvchain-ci: updated the plan comment on ${forge.where}`);
    } else {
      await forge.create(body);
      console.log(`lvchain-ci: added the plan comment to ${forge.where}`);
    }
  } catch (e) {
    if (e.status === 403 && !env.GITLAB_CI) {
      console.log(
        `::warning::cannot comment on ${forge.where} (a fork's read-only token?); the job summary has the plan`,
      );
      return;
    }
    throw e;
  }
}

async function fetchPlan(dest) {
  if (!env.GITLAB_CI) fail('fetch-plan is for GitLab; on GitHub the workflow uses "gh run download"');
  const { api, headers } = gitlab();
  const sha = need('CI_COMMIT_SHA');
  const job = env.LVCHAIN_PLAN_JOB || 'plan';
  const mrs = await json('GET', `${api}/repository/commits/${sha}/merge_requests`, headers);
  const mr = mrs.find((m) => m.state === 'merged') ?? mrs[0];
  if (!mr) fail(`commit ${sha} did not come from a merge request, so there is no reviewed plan to apply`);
  const pipelines = await json('GET', `${api}/merge_requests/${mr.iid}/pipelines`, headers);
  for (const p of pipelines.filter((x) => x.status === 'success')) {
    const jobs = await json('GET', `${api}/pipelines/${p.id}/jobs?scope[]=success`, headers);
    const planJob = jobs.find((j) => j.name === job);
    if (!planJob) continue;
    const res = await call('GET', `${api}/jobs/${planJob.id}/artifacts/plan.json`, headers);
    if (!res.ok) fail(`job ${planJob.id} has no plan.json artifact (HTTP ${res.status})`);
    writeFileSync(dest, Buffer.from(await res.arrayBuffer()));
    console.log(
      `lvchain-ci: fetched the plan of merge request !${mr.iid} (pipeline ${p.id}, job ${planJob.id})`,
    );
    return;
  }
  fail(`merge request !${mr.iid} has no successful pipeline with a "${job}" job`);
}

const [command, arg] = process.argv.slice(2);
try {
  if (command === 'comment' && arg) await comment(arg);
  else if (command === 'fetch-plan' && arg) await fetchPlan(arg);
  else fail('usage: lvchain-ci.mjs comment FILE.md | fetch-plan FILE.json');
} catch (e) {
  console.error(`lvchain-ci: ${e instanceof Failure ? e.message : e}`);
  process.exitCode = 1;
}
