/**
 * Crash safety on the directory backend: every operation killed at every step
 * boundary and in the middle of every merge's data move; each kill converges with nothing
 * lost. Writes its section of docs/reliability.md.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { Fixtures, Pool, scenarioTests, type CrashStorage, type KillResult } from './harness.js';
import { DirStorage } from './dir-storage.js';
import { SCENARIOS } from './scenarios.js';
import { cpuSeconds, renderSection } from './report.js';
import { writeSection } from '../helpers/reliability.js';

/** Two workspaces run kill points side by side. */
const SLOTS = 2;

describe.concurrent('crash injection on the directory backend', () => {
  let root: string;
  let pool: Pool<CrashStorage>;
  let fixtures: Fixtures;
  const results = new Map<string, KillResult[]>();
  const t0 = performance.now();
  const cpu0 = cpuSeconds();

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
    root = await mkdtemp(join(tmpdir(), 'lvchain-crash-dir-'));
    const storages = Array.from(
      { length: SLOTS },
      (_, i) => new DirStorage(`dir#${i + 1}`, join(root, `w${i + 1}`), join(root, 'fixtures')),
    );
    for (const s of storages) await s.init();
    pool = new Pool<CrashStorage>(storages);
    fixtures = new Fixtures(pool);
  });

  afterAll(async () => {
    const all = SCENARIOS.flatMap((s) => results.get(s.id) ?? []);
    const complete = SCENARIOS.every((s) => results.has(s.id));
    const cpu = cpuSeconds() - cpu0;
    console.log(
      `crash harness (dir): ${all.length} kill points, ${all.filter((r) => r.problems.length > 0).length} failed, ${((performance.now() - t0) / 1000).toFixed(0)} s, ${cpu.toFixed(0)} CPU s`,
    );
    if (complete) {
      writeSection(
        'crash:dir',
        renderSection(
          {
            backend: 'dir',
            testFile: 'test/crash/dir.test.ts',
            wallMs: performance.now() - t0,
            cpuSeconds: cpu,
            notes: [
              'Each kill point starts from a copy of the state before the operation; the applier is `lvchain apply --json` (or `lvchain rollback --json`) in its own process group, killed with SIGKILL when the NDJSON event of the kill point arrives (the group holds qemu-img too).',
              'After the kill: `lvchain plan --out` must show a `resume_interrupted` change wherever the sidecar records an intent or an incomplete layer, or a renamed-aside layer exists; `lvchain apply` (with the same flags) converges; `lvchain plan --detailed-exitcode` says "No changes."; every layer reads exactly what it read before the operation, or what the operation makes of it (sha256 of `qemu-img convert -O raw`, against a model of the writes).',
              `Mid-data-move kills use a chain with 24 MiB of its own data in every layer, so every merge direction copies 24 MiB and reports progress.`,
            ],
          },
          all,
        ),
      );
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  scenarioTests(SCENARIOS, () => ({ pool, fixtures }), results, 600_000);
});
