/**
 * `npm run bench:lvm` (issue 3, acceptance 8): 200 disks with a snapshot each in a VG of the
 * lab VM, reached over ssh. Prints the wall time of a plan, in-process and as `lvchain plan` (the
 * built CLI, as users run it), the wall time of a bare `lvs` of the VG (issue 14 acceptance 7 sets
 * its target against it: ratio ≤ 1.5), the `pvs` report a plan runs instead, and the plan's one
 * round trip. Run `npm run build` first.
 *
 * The chains are made by lvchain itself (`apply`), which takes minutes under TCG (about 0.3 s
 * per LVM command), so the VG lives on a disk file kept in the lab cache and reused by later
 * runs; delete it (or set LVCHAIN_BENCH_REBUILD=1) to build it again.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm, truncate, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labHostConfig, startLab } from '../test/lab/vm.js';
import { labCacheDir } from '../test/lab/build.js';
import { lvchain } from '../test/helpers/cli.js';
import { Session } from '../src/pipeline/session.js';
import { makePlan } from '../src/pipeline/make-plan.js';
import { labExecutor } from '../test/helpers/lvmlab.js';
import { LVS_WITH_VG_FIELDS, reportArgv, vgLockPath, vgReportArgv } from '../src/storage/lvm/report.js';
import { nodeProbe } from '../src/storage/proxmox/node.js';
import { probeArgv } from '../src/storage/lock-probe.js';

const DISKS = 200;
// TCG timings swing by ±40% from run to run: medians of several runs.
const RUNS = 9;
const VG = 'vg_bench';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const dir = join(labCacheDir(), 'bench-lvm');
  mkdirSync(dir, { recursive: true });
  const image = join(dir, `vg-${DISKS}.img`);
  const ready = join(dir, `vg-${DISKS}.ready`);
  if (process.env['LVCHAIN_BENCH_REBUILD'] || !existsSync(ready)) {
    await rm(ready, { force: true });
    const fh = await open(image, 'w');
    await fh.close();
    await truncate(image, 3 * 1024 ** 3);
  }
  const vm = await startLab({ disks: [{ sizeMiB: 0, file: image }] });
  try {
    const config = join(dir, 'lvchain.yaml');
    const disks = Object.fromEntries(
      Array.from({ length: DISKS }, (_, i) => [
        `vm-${1000 + i}-disk-0`,
        { storage: VG, size: '2MiB', snapshots: { base: {} } },
      ]),
    );
    await writeFile(
      config,
      stringify({
        version: 1,
        hosts: { lab: labHostConfig(vm) },
        volumeGroups: { [VG]: { host: 'lab', pvs: [vm.devices[0]] } },
        disks,
      }),
    );
    if (!existsSync(ready)) {
      process.stdout.write(
        `building ${DISKS} disks with a snapshot each through lvchain apply (once; cached in ${dir})…\n`,
      );
      const t0 = performance.now();
      const r = await lvchain(['-c', config, 'apply', '--auto-approve'], { cwd: dir });
      if (r.exitCode !== 0) throw new Error(`apply failed: ${r.stderr}`);
      process.stdout.write(`  built in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      writeFileSync(ready, new Date().toISOString());
    }
    const session = await Session.open(config);
    const exec = labExecutor(vm);
    try {
      const lvsArgv = reportArgv('lvs', LVS_WITH_VG_FIELDS, VG);
      await exec.run(['true']);
      const plans: number[] = [];
      const clis: number[] = [];
      const lvss: number[] = [];
      const freshes: number[] = [];
      const batches: number[] = [];
      const reports: number[] = [];
      let changes = -1;
      for (let i = 0; i < RUNS; i++) {
        let t = performance.now();
        const { plan } = await makePlan(session, {
          now: Date.now(),
          mode: 'full',
          allowDestroy: false,
          targets: [],
          mergeDirection: 'auto',
        });
        plans.push(performance.now() - t);
        changes = plan.resource_changes.length;
        // As users run it: Node's start, the config, the ssh connection, the plan, the output.
        t = performance.now();
        const cli = await lvchain(['-c', config, 'plan'], { cwd: dir });
        clis.push(performance.now() - t);
        if (cli.exitCode !== 0) throw new Error(`lvchain plan failed: ${cli.stderr}`);
        t = performance.now();
        const r = await exec.run(lvsArgv);
        lvss.push(performance.now() - t);
        if (r.failed) throw new Error(r.stderr);
        // `ssh host lvs …` as a user would type it: a new connection, as the CLI makes.
        t = performance.now();
        const own = labExecutor(vm);
        const f = await own.run(lvsArgv);
        freshes.push(performance.now() - t);
        await own.close();
        if (f.failed) throw new Error(f.stderr);
        t = performance.now();
        const report = await exec.run(vgReportArgv(VG));
        reports.push(performance.now() - t);
        if (report.failed) throw new Error(report.stderr);
        t = performance.now();
        await exec.runBatch([vgReportArgv(VG), probeArgv(vgLockPath(VG)), ...nodeProbe({ kind: 'detect' })]);
        batches.push(performance.now() - t);
      }
      const p = median(plans);
      const l = median(lvss);
      console.log(
        `lvchain LVM plan benchmark: ${DISKS} disks × 2 LVs in ${VG}, in the lab VM over ssh (TCG, no KVM)\n`,
      );
      console.log(
        `  plan wall time          ${p.toFixed(0)} ms   (median of ${RUNS}; runs: ${plans.map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `  bare lvs wall time      ${l.toFixed(0)} ms   (lvs of the VG with the VG's fields; runs: ${lvss.map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `  pvs report wall time    ${median(reports).toFixed(0)} ms   (the one LVM command a plan runs instead; runs: ${reports.map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `  plan's round trip       ${median(batches).toFixed(0)} ms   (the pvs report, the lock probe, the Proxmox probes that run only on a node)`,
      );
      const c = median(clis);
      console.log(
        `  lvchain plan (the CLI)  ${c.toFixed(0)} ms   (median of ${RUNS}, Node's start and a new ssh connection included; runs: ${clis.map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `  ratio plan / lvs        ${(p / l).toFixed(2)}   (in-process; target ≤ 1.5: ${p / l <= 1.5 ? 'met' : 'MISSED'})`,
      );
      const f = median(freshes);
      console.log(
        `  ssh lvs, new connection ${f.toFixed(0)} ms   (runs: ${freshes.map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `  ratio CLI plan / ssh lvs ${(c / f).toFixed(2)}  (both with a new connection; target ≤ 1.5: ${c / f <= 1.5 ? 'met' : 'MISSED'})`,
      );
      console.log(`  ratio CLI plan / lvs    ${(c / l).toFixed(2)}   (against the warm connection's lvs)`);
      console.log(`  changes planned         ${changes}`);
    } finally {
      await exec.close();
      await session.close();
    }
  } finally {
    await vm.stop();
  }
}

await main();
