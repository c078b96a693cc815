#!/usr/bin/env node
/* global process, console */
/**
 * A fake `gh` for the GitHub pipeline test: exactly the three calls the workflow's apply job
 * makes, answered from the JSON state file in FAKE_GH_STATE. Anything else fails loudly, so a
 * change to the workflow's gh usage shows up as a test failure rather than passing unnoticed.
 */
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function die(message, code = 1) {
  console.error(`fake gh: ${message}`);
  process.exit(code);
}

const state = JSON.parse(readFileSync(process.env.FAKE_GH_STATE ?? die('FAKE_GH_STATE is not set'), 'utf8'));
if (process.env.GH_TOKEN !== state.token)
  die('authentication required: GH_TOKEN is not the workflow token', 4);

const args = process.argv.slice(2);
function flag(name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The jq subset the workflow uses: .[N].key.key, optionally followed by "// empty". */
function jq(value, expr) {
  const m = /^((?:\.\[\d+\]|\.[A-Za-z_]+)+)( \/\/ empty)?$/.exec(expr);
  if (!m) die(`unsupported --jq expression: ${expr}`);
  let v = value;
  for (const part of m[1].match(/\.\[\d+\]|\.[A-Za-z_]+/g)) {
    const key = part.startsWith('.[') ? Number(part.slice(2, -1)) : part.slice(1);
    v = v === null || v === undefined ? undefined : v[key];
  }
  if (v === null || v === undefined) {
    if (!m[2]) console.log('null');
    return;
  }
  console.log(typeof v === 'string' ? v : JSON.stringify(v));
}

if (args[0] === 'api') {
  const m = /^repos\/[^/]+\/[^/]+\/commits\/([0-9a-f]+)\/pulls$/.exec(args[1] ?? '');
  if (!m) die(`unsupported api path: ${args[1]}`);
  jq(state.pulls[m[1]] ?? [], flag('--jq') ?? '.');
} else if (args[0] === 'run' && args[1] === 'list') {
  const runs = state.runs
    .filter((r) => r.workflowName === flag('--workflow'))
    .filter((r) => r.headSha === flag('--commit'))
    .filter((r) => r.event === flag('--event'))
    .filter((r) => r.status === flag('--status'))
    .sort((a, b) => b.databaseId - a.databaseId)
    .slice(0, Number(flag('--limit') ?? 20));
  if (flag('--json') !== 'databaseId') die('unsupported --json fields');
  jq(
    runs.map((r) => ({ databaseId: r.databaseId })),
    flag('--jq') ?? '.',
  );
} else if (args[0] === 'run' && args[1] === 'download') {
  const run = state.runs.find((r) => String(r.databaseId) === args[2]);
  const dir = run?.artifacts[flag('--name')];
  if (!dir) die(`no artifact ${flag('--name')} in run ${args[2]}`);
  for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(flag('--dir') ?? '.', f));
} else {
  die(`unsupported command: gh ${args.join(' ')}`);
}
