/**
 * A PR comment fits GitHub's size limit: a real 2,000-disk plan (1,950 disks to create, 50 existing
 * disks to destroy) renders under 65,000 characters, says what it cut, and still names every
 * deletion. The same plan at smaller budgets exercises the cut deletion list and the last-resort
 * cut: the output always fits and every fence and <details> block is closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plan } from '../../src/model/plan.js';
import { renderPlanMarkdown } from '../../src/render/markdown.js';
import { requireTool } from '../helpers/tools.js';
import { Workspace } from './helpers/workspace.js';
import { detailsBlock, expectWellFormed, warningSection } from './helpers/markdown-checks.js';

const disks = (from: number, count: number, size: string) =>
  Array.from({ length: count }, (_, i) => `  vm-${from + i}-disk-0: { storage: lab, size: ${size} }`).join(
    '\n',
  );

describe('a 2,000-disk plan in a PR comment', () => {
  let ws: Workspace;
  let plan: Plan;
  let md: string;
  let planMs = 0;

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    ws = await Workspace.create();
    await ws.writeConfig(`disks:\n${disks(5000, 50, '64MiB')}\n`);
    await ws.apply();
    await ws.writeConfig(`disks:\n${disks(1000, 1950, '1GiB')}\n`);
    const t0 = Date.now();
    ({ plan } = await ws.plan(['--allow-destroy', '--markdown', 'plan.md']));
    planMs = Date.now() - t0;
    md = await readFile(join(ws.dir, 'plan.md'), 'utf8');
  });
  afterAll(async () => ws?.dispose());

  it('plans 2,000 disks in reasonable time', () => {
    expect(plan.resource_changes).toHaveLength(2000);
    expect(plan.summary).toMatchObject({ add: 1950, change: 0, destroy: 50 });
    // Measured about 2 s on the 2-core reference machine (plan, --out and --markdown).
    expect(planMs).toBeLessThan(30_000);
  });

  it('fits 65,000 characters and keeps the title, the summary and the table', () => {
    expectWellFormed(md, 65_000);
    expect(md.length).toBeGreaterThan(60_000);
    expect(md).toContain('**Plan: 1950 to add, 0 to change, 50 to destroy.**');
    expect(md).toMatch(/^\| `lab` \| 1950 \| 0 \| 0 \| 0 \| \*\*50\*\* \|/m);
  });

  it('names all 50 irreversible deletions', () => {
    const warning = warningSection(md) ?? '';
    expect(warning).toContain('This plan deletes 50 resources, 50 of them irreversible');
    for (let i = 0; i < 50; i++) expect(warning).toContain(`\`disk.vm-${5000 + i}-disk-0\` is destroyed`);
  });

  it('says exactly what it cut, and shows a prefix of the diff in plan order', () => {
    const diff = detailsBlock(md, 'Diff: 2,000 changes') ?? '';
    const shown = [...diff.matchAll(/^ {2}# (\S+) will be/gm)].map((m) => m[1]);
    expect(shown.length).toBeGreaterThan(50);
    expect(shown.length).toBeLessThan(2000);
    expect(shown).toEqual(plan.resource_changes.slice(0, shown.length).map((c) => c.address));
    const hidden = 2000 - shown.length;
    const count = hidden.toLocaleString('en-US');
    expect(md).toContain(
      `**This comment is cut to fit 65,000 characters.** Not shown: the diff of ${count} of 2,000 changes;`,
    );
    expect(diff).toContain(`_… ${count} more changes not shown here (cut to fit)._`);
    // The budget went to the diff; the reasons and the steps are cut whole, and the note says so.
    expect(md).toContain('the reasons of all 2,000 changes; the steps of all 2,000 changes.');
    expect(detailsBlock(md, 'Steps')).toBeUndefined();
  });

  it('stays well-formed at any budget, and a cut deletion list says how many it left out', () => {
    for (const limit of [40_000, 12_000, 6_000, 3_000, 1_500]) {
      const small = renderPlanMarkdown(plan, { target: 'lvchain.yaml', maxChars: limit });
      expectWellFormed(small, limit);
      const warning = warningSection(small);
      if (warning === undefined) continue;
      const listed = [...warning.matchAll(/^- :bangbang: \*\*irreversible\*\*: `disk\.[^`]+`/gm)].length;
      if (listed < 50) {
        expect(warning).toContain(`_… and ${50 - listed} more deletions, not listed here (cut to fit)._`);
        expect(small).toContain(`${50 - listed} of 50 deletions from the deletion warning`);
      }
    }
  });
});
