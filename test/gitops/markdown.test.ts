/**
 * The PR comment for real plans (no changes, creates only, merges and a
 * destroy), compared with golden files and checked for the deletion warning and byte figures.
 *
 * The golden files are rendered from the real plan after normalizePlan() (temp path, plan id,
 * version, filesystem free space). Regenerate them after an intended change with
 *   UPDATE_GOLDEN=1 npx vitest run test/gitops/markdown.test.ts
 * and review the diff of test/gitops/golden/ (Markdown, named .md.golden so formatters leave it alone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPlanMarkdown } from '../../src/render/markdown.js';
import { formatBytes } from '../../src/base/units.js';
import { requireTool } from '../helpers/tools.js';
import { Workspace, normalizePlan } from './helpers/workspace.js';
import { createsOnly, mergesAndDestroy, noChanges, type Scenario } from './helpers/scenarios.js';
import { detailsBlock, expectWellFormed, warningSection } from './helpers/markdown-checks.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const GOLDEN = join(HERE, 'golden');

async function golden(name: string, ws: Workspace, s: Scenario): Promise<string> {
  const md = renderPlanMarkdown(normalizePlan(s.plan, ws.dir), { target: 'lvchain.yaml' });
  const file = join(GOLDEN, `${name}.md.golden`);
  if (process.env['UPDATE_GOLDEN']) await writeFile(file, md);
  if (!existsSync(file)) throw new Error(`${file} is missing; run with UPDATE_GOLDEN=1 to create it`);
  expect(md).toBe(await readFile(file, 'utf8'));
  // The CLI's --markdown output is this renderer's output for the plan it saved.
  expect(s.markdown).toBe(renderPlanMarkdown(s.plan, { target: 'lvchain.yaml' }));
  expectWellFormed(md, 65_000);
  return md;
}

describe('Markdown plan comments from real plans', () => {
  const spaces: Workspace[] = [];
  const fresh = async () => {
    const ws = await Workspace.create();
    spaces.push(ws);
    return ws;
  };
  beforeAll(() => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
  });
  afterAll(async () => Promise.all(spaces.map((w) => w.dispose())));

  it('no changes: a passing title, no warning and no details', async () => {
    const ws = await fresh();
    const s = await noChanges(ws);
    expect(s.plan.resource_changes).toEqual([]);
    const md = await golden('no-changes', ws, s);
    expect(md).toContain(':white_check_mark: lvchain plan for `lvchain.yaml`: no changes');
    expect(md).toContain('**No changes.** Your storage matches the configuration.');
    expect(warningSection(md)).toBeUndefined();
    expect(md).not.toContain('<details>');
  });

  it('creates only: the counts per storage and no deletion warning', async () => {
    const ws = await fresh();
    const s = await createsOnly(ws);
    const md = await golden('creates-only', ws, s);
    expect(md).toContain('**Plan: 5 to add, 0 to change, 0 to destroy.**');
    expect(warningSection(md)).toBeUndefined();
    // Storage, create, snapshot, update, merge, destroy, bytes to copy.
    expect(md).toMatch(/^\| `lab` \| 3 \| 2 \| 0 \| 0 \| 0 \| 0 B \|/m);
    const diff = detailsBlock(md, 'Diff: 5 changes') ?? '';
    expect(diff).toContain('```diff');
    // Markers in column 0, so GitHub colours them.
    expect(diff).toMatch(/^\+ {3}disk "vm-900-disk-0" \{$/m);
    expect(diff).toMatch(/^\+ {7}size {4}= 64 MiB \(67108864\)$/m);
    expect(diff).not.toMatch(/^ +[+~-] /m);
  });

  it('merges and a destroy: every deletion named, with its bytes and reason', async () => {
    const ws = await fresh();
    const s = await mergesAndDestroy(ws);
    const md = await golden('merges-and-destroy', ws, s);
    const plan = s.plan;
    const deletes = plan.resource_changes.filter((c) => c.change.actions.includes('delete'));
    expect(deletes.map((c) => c.address).sort()).toEqual([
      'disk.vm-901-disk-0',
      'snapshot.vm-900-disk-0@auto-20261120T1105Z',
      'snapshot.vm-900-disk-0@pre-upgrade',
    ]);
    const warning = warningSection(md) ?? '';
    expect(warning).toContain('This plan deletes 3 resources, 1 of them irreversible');
    for (const c of deletes) {
      const line = warning.split('\n').find((l) => l.includes(`\`${c.address}\``)) ?? '';
      expect(line, c.address).not.toBe('');
      if (c.reason_detail) expect(line).toContain(c.reason_detail);
      if (c.operation.op === 'delete') {
        // Both merge directions, with exact byte counts from qemu-img map.
        for (const n of [c.operation.commit_bytes, c.operation.stream_bytes])
          expect(line).toContain(`(${n} bytes)`);
      }
      if (c.irreversible) expect(line).toContain('**irreversible**');
    }
    const retention = deletes.find((c) => c.action_reason === 'retention_expired');
    expect(retention?.reason_detail).toMatch(/retention expired/);
    const copied = plan.summary.bytes_to_copy;
    expect(copied).toBeGreaterThan(0);
    // The merges are counted apart from the destroyed disk: they lose no data.
    // A fresh storage has no merge on record: the time is estimated at the assumed rate, and says so.
    expect(md).toContain(
      `**Plan: 1 to add, 0 to change, 1 to destroy; 2 snapshots to merge away (${formatBytes(copied)} to copy, under a second at an assumed 50 MiB/s).**`,
    );
    expect(md).toMatch(
      new RegExp(`^\\| \`lab\` \\| 0 \\| 1 \\| 0 \\| 2 \\| \\*\\*1\\*\\* \\| ${formatBytes(copied)} `, 'm'),
    );
    // The reasons table and the steps, with the commands each runs.
    expect(detailsBlock(md, 'Reasons: 4 changes')).toContain('`retention_expired`');
    expect(detailsBlock(md, 'Steps: 4 changes')).toContain("qemu-img rebase -u -f qcow2 -b ''");
  });

  it('a failed plan says so in the title and lists the error', async () => {
    const ws = await fresh();
    await ws.writeConfig('disks:\n  vm-100-disk-0: { storage: lab, size: 1GiB }\n');
    // A reserve no filesystem here can keep free: the capacity check refuses the plan.
    const text = (await readFile(ws.config, 'utf8')).replace(
      'path: ./store }',
      'path: ./store, reserve: 4PiB }',
    );
    await writeFile(ws.config, text);
    const { plan } = await ws.plan(['--markdown', 'plan.md']);
    expect(plan.errored).toBe(true);
    const md = await readFile(join(ws.dir, 'plan.md'), 'utf8');
    expectWellFormed(md, 65_000);
    expect(md).toContain('## :x: lvchain plan failed for `lvchain.yaml`');
    expect(md).toMatch(/^- :x: \*\*the plan does not fit on lab/m);
    expect(md).toContain('**refused**: below the reserve');
  });
});
