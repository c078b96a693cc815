/**
 * `npm run bench`: plan time and peak memory for synthetic states of 1,000 to 10,000 disks ×
 * 30 layers (issue 2, acceptance 8). Each size runs in a fresh process so its peak memory is
 * its own. Targets on this 2-core machine: 10,000 disks in under 2 s and under 1 GiB, growing
 * near-linearly.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { planChanges } from '../src/plan/plan.js';
import { finalizePlan } from '../src/plan/finalize.js';
import type { Fingerprint } from '../src/model/plan.js';
import { synthetic } from './synthetic.js';

const LAYERS = 30;

function measure(disks: number): void {
  const { desired, observed } = synthetic(disks, LAYERS);
  (globalThis as { gc?: () => void }).gc?.();
  const baseRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const draft = planChanges({
    desired,
    observed,
    now: Date.UTC(2026, 10, 21),
    mode: 'full',
    allowDestroy: false,
    targets: [],
    mergeDirection: 'auto',
  });
  const fingerprint: Fingerprint = { digest: 'synthetic', storages: {} };
  const plan = finalizePlan(
    draft,
    {
      lvchainVersion: 'bench',
      planId: 'bench',
      now: 0,
      configPath: desired.source,
      configDigest: '',
      fingerprint,
      mode: 'full',
      allowDestroy: false,
      targets: [],
      mergeDirection: 'auto',
      allowMassDelete: false,
    },
    (_s, _d, step) => ({ description: step.kind, commands: [] }),
  );
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(
    `${JSON.stringify({ disks, layers: LAYERS, changes: plan.resource_changes.length, ms: Math.round(ms), peakRssMiB: Math.round(peak / 2 ** 20), planRssMiB: Math.round((peak - baseRss) / 2 ** 20) })}\n`,
  );
}

const sizeArg = process.argv.indexOf('--disks');
if (sizeArg >= 0) {
  measure(Number(process.argv[sizeArg + 1]));
} else {
  const sizes = [1000, 2000, 5000, 10000];
  const rows = sizes.map((n) => {
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--disks', String(n)],
      { encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').pop() as string) as {
      disks: number;
      changes: number;
      ms: number;
      peakRssMiB: number;
      planRssMiB: number;
    };
  });
  console.log(`lvchain plan benchmark: synthetic LVM state, ${LAYERS} layers per disk, no host involved\n`);
  console.log('  disks   changes   plan time   per 1k disks   peak RSS');
  for (const r of rows) {
    console.log(
      `  ${String(r.disks).padStart(5)}   ${String(r.changes).padStart(7)}   ${String(r.ms).padStart(6)} ms   ${String(Math.round((r.ms / r.disks) * 1000)).padStart(9)} ms   ${String(r.peakRssMiB).padStart(5)} MiB`,
    );
  }
  const first = rows[0] as (typeof rows)[number];
  const last = rows[rows.length - 1] as (typeof rows)[number];
  const growth = last.ms / first.ms;
  const ideal = last.disks / first.disks;
  console.log(
    `\n  time ratio ${last.disks}/${first.disks} disks: ${growth.toFixed(1)}x for ${ideal}x the disks (1.0 = linear: ${(growth / ideal).toFixed(2)})`,
  );
  console.log(
    `  targets: ${last.disks} disks < 2000 ms: ${last.ms < 2000 ? 'met' : 'MISSED'} (${last.ms} ms); peak < 1024 MiB: ${last.peakRssMiB < 1024 ? 'met' : 'MISSED'} (${last.peakRssMiB} MiB)`,
  );
}
