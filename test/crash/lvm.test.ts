/**
 * Crash safety on thick LVM in the lab VM, over real ssh: every operation killed at
 * every step boundary and in the middle of every merge's data move, both by SIGKILL to the
 * applier's process group (lvchain and its ssh clients) and by killing only its ssh
 * connections; each kill converges with nothing lost, and no remote command outlives the run
 * that started it. Writes its section of docs/reliability.md when it ran the whole matrix.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type LabVm } from '../lab/vm.js';
import { Fixtures, Pool, scenarioTests, type CrashStorage, type KillResult } from './harness.js';
import { LvmStorage } from './lvm-storage.js';
import { BIG_LAYER_MIB, SCENARIOS } from './scenarios.js';
import { cpuSeconds, renderSection } from './report.js';
import { writeSection } from '../helpers/reliability.js';

const VG = 'vg_crash';
/**
 * The whole LVM matrix (106 kill points) takes about 18 minutes on the 2-core reference
 * machine under TCG, too long for the suite's 30 minutes beside everything else. The suite runs
 * a representative part: every step boundary of a middle-snapshot commit delete (intent, commit,
 * LV renames, tags, wipe and removal) and every data-move kill of a commit and of a stream,
 * including the ssh connection kills. `npm run test:crash` runs the whole matrix and rewrites the
 * LVM section of docs/reliability.md; the part never does.
 */
const FULL = process.env.LVCHAIN_CRASH_MATRIX === 'full';
const PART = new Set(['delete-middle-commit', 'delete-middle-commit-data', 'delete-middle-stream-data']);
const RUN = SCENARIOS.filter((s) => FULL || PART.has(s.id));
/** Lab VMs working side by side: TCG runs one VM per core; the part shares the machine with other files. */
const VMS = Number(process.env.LVCHAIN_CRASH_VMS ?? (FULL ? 2 : 1));

describe.concurrent('crash injection on thick LVM over ssh', () => {
  const vms: LabVm[] = [];
  let fixtureDir: string;
  let pool: Pool<CrashStorage>;
  let fixtures: Fixtures;
  const results = new Map<string, KillResult[]>();
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  let bootMs = 0;

  beforeAll(async () => {
    vms.push(
      ...(await Promise.all(Array.from({ length: VMS }, () => startLab({ disks: [{ sizeMiB: 1024 }] })))),
    );
    bootMs = performance.now() - t0;
    fixtureDir = await mkdtemp(join(tmpdir(), 'lvchain-crash-lvm-'));
    const storages: LvmStorage[] = [];
    for (const [i, vm] of vms.entries())
      storages.push(await LvmStorage.create(`lvm#${i + 1}`, vm, VG, fixtureDir, i === 0));
    pool = new Pool<CrashStorage>(storages);
    fixtures = new Fixtures(pool);
  }, 300_000);

  afterAll(async () => {
    await Promise.all(vms.map((vm) => vm.stop()));
    const all = RUN.flatMap((s) => results.get(s.id) ?? []);
    const complete = FULL && RUN.every((s) => results.has(s.id));
    const wallMs = performance.now() - t0;
    const cpu = cpuSeconds() - cpu0;
    console.log(
      `crash harness (lvm): ${all.length} kill points of ${RUN.length}/${SCENARIOS.length} scenarios${FULL ? '' : " (the suite's part; npm run test:crash runs all)"}, ${all.filter((r) => r.problems.length > 0).length} failed, ${(wallMs / 1000).toFixed(0)} s on ${VMS} VM(s), ${cpu.toFixed(0)} CPU s`,
    );
    if (complete) {
      writeSection(
        'crash:lvm',
        renderSection(
          {
            backend: 'lvm',
            testFile: 'test/crash/lvm.test.ts',
            wallMs,
            cpuSeconds: cpu,
            notes: [
              `Thick LVM in ${VMS} lab VM(s) (QEMU/TCG, one vCPU each, booted in ${(bootMs / 1000).toFixed(0)} s), reached over real ssh; lvchain runs on the host. Each kill point starts from the state before the operation, restored by copying the PV's disk file with the VG deactivated.`,
              'Kills: SIGKILL to the applier\'s process group (lvchain and its local ssh clients) when the NDJSON event of the kill point arrives; in the middle of data moves also "ssh connection": only the ssh processes of the run are killed, lvchain sees its connection drop.',
              'After the kill, no lvchain command may still run in the VM (checked with ps for 2 s). Then `lvchain plan --out` must show a `resume_interrupted` change wherever an LV carries an intent or incomplete tag or a renamed-aside LV exists; `lvchain apply` converges; `lvchain plan --detailed-exitcode` says "No changes."; every LV reads what it read before (md5 of `qemu-img convert -O raw` in the VM, against a model of the writes).',
              `Mid-data-move kills use a chain with ${BIG_LAYER_MIB} MiB of its own data in every layer, so every merge direction copies ${BIG_LAYER_MIB} MiB and reports progress.`,
            ],
          },
          all,
        ),
      );
    }
    if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
  }, 60_000);

  scenarioTests(RUN, () => ({ pool, fixtures }), results, 900_000);
});
