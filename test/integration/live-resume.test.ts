/**
 * A block job outlives the lvchain that started it (DESIGN §12): lvchain is SIGKILLed while
 * QEMU runs a live commit of the top, and the next run must find the job, pivot with the guest
 * paused, record it, and resume the guest. The QEMU is qemu-system-x86_64 without a machine (it
 * can pause), with NBD exports standing in for the guest.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createInterface } from 'node:readline';
import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';
import { requireTool } from '../helpers/tools.js';
import { diskConfig } from '../helpers/configs.js';
import { fileOf } from '../../src/engines/qmp/graph.js';

const DISK = 'vm-811-disk-0';
const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
let lab: DirLab;
let qemu: StorageDaemon | undefined;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await qemu?.stop();
  qemu = undefined;
  await lab.dispose();
});

async function config(snapshots: string[], vm?: Record<string, unknown>): Promise<void> {
  await lab.writeRawConfig(diskConfig({ disk: DISK, size: '256MiB', snapshots, ...(vm ? { vm } : {}) }));
}

type KillPoint = 'move_progress' | 'rename_start';

/**
 * `lvchain apply --json`, and a SIGKILL at the kill point's first event: to lvchain's process
 * group, or (`victim: 'qemu'`) to the QEMU running the job.
 */
async function applyKilledAt(
  at: KillPoint,
  direction: 'commit' | 'stream' = 'commit',
  victim: 'lvchain' | 'qemu' = 'lvchain',
): Promise<{ killed: boolean; events: string[] }> {
  const child = execa(
    'node',
    [CLI, '-c', lab.configPath, 'apply', '--auto-approve', '--json', '--merge-direction', direction],
    { cwd: lab.root, env: { NO_COLOR: '1' }, reject: false, detached: true, stdin: 'ignore' },
  );
  const events: string[] = [];
  let killed = false;
  let moving = false;
  for await (const line of createInterface({ input: child.stdout })) {
    events.push(line);
    const e = JSON.parse(line) as { type?: string; hook?: { kind?: string } };
    if (e.type === 'step_start') moving = e.hook?.kind === 'commit' || e.hook?.kind === 'stream';
    const hit =
      at === 'move_progress'
        ? e.type === 'step_progress' && moving
        : e.type === 'step_start' && e.hook?.kind === 'rename';
    if (hit && !killed) {
      process.kill(victim === 'qemu' ? (qemu as StorageDaemon).pid : -(child.pid as number), 'SIGKILL');
      killed = true;
    }
  }
  await child;
  return { killed, events };
}

/**
 * A disk with snapshot s1 under a top holding 160 MiB, held by a QEMU that can pause. For a
 * stream, which QEMU 7.2 cannot do into lvchain's own layers (subclusters), the chain is made
 * without them and imported, where the stream moves s1's 160 MiB into the top instead.
 */
async function setUp(stream = false): Promise<{ expected: ExpectedDisk }> {
  lab = await DirLab.create('lvchain-live-resume-');
  const expected = new ExpectedDisk(SIZE);
  if (stream) {
    await mkdir(lab.diskDir(DISK), { recursive: true });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', lab.snap(DISK, 's1'), String(SIZE)]);
    const base = ['-b', basename(lab.snap(DISK, 's1')), '-F', 'qcow2'];
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...base, lab.top(DISK), String(SIZE)]);
    await config(['s1']);
    const imported = await lab.run(['import', 'lab', DISK, '--auto-approve']);
    expect(imported.exitCode, imported.stdout + imported.stderr).toBe(0);
  } else {
    await config(['s1']);
    await lab.apply();
  }
  const [bulk, small] = stream
    ? [lab.snap(DISK, 's1'), lab.top(DISK)]
    : [lab.top(DISK), lab.snap(DISK, 's1')];
  await writePattern(small, 0, MiB, 0x11);
  // Enough to move that the job is still running when lvchain reports its first progress.
  await writePattern(bulk, 8 * MiB, 160 * MiB, 0x22);
  expected.write(8 * MiB, 160 * MiB, 0x22);
  expected.write(0, MiB, 0x11);
  qemu = await startStorageDaemon({ [DISK]: lab.top(DISK) }, { exports: 'nbd', process: 'system' });
  await config([], { qmp: qemu.qmp, freeze: 'off' });
  return { expected };
}

/** The second run finished: the guest runs on its top, the only qcow2 node, and reads back. */
async function expectFinished(expected: ExpectedDisk): Promise<void> {
  const q = qemu as StorageDaemon;
  expect(await q.query<unknown[]>('query-jobs')).toEqual([]);
  expect((await q.query<{ status: string }>('query-status')).status).toBe('running');
  await guestWrite(q.nbd(DISK), 210 * MiB, MiB, 0x44);
  expected.write(210 * MiB, MiB, 0x44);
  expect(await guestView(q.nbd(DISK))).toBe(expected.digest());
  const nodes = await q.query<{ file: string; drv: string; ro: boolean }[]>('query-named-block-nodes', {
    flat: true,
  });
  expect(nodes.filter((n) => n.drv === 'qcow2').map((n) => [fileOf(n), n.ro])).toEqual([
    [lab.top(DISK), false],
  ]);
  await q.stop();
  qemu = undefined;
  const after = await lab.run(['plan', '--detailed-exitcode']);
  expect(after.exitCode, after.stdout + after.stderr).toBe(0);
  expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
}

describe('a live commit whose lvchain is killed', () => {
  it('is carried on by the next run: the job is found and pivoted, the pivot recorded, and the guest runs again; every view reads back', async () => {
    const { expected } = await setUp();
    const first = await applyKilledAt('move_progress');
    expect(first.killed, first.events.join('\n')).toBe(true);
    // QEMU carries the job on alone (a commit of the top then waits at READY for its pivot).
    const q = qemu as StorageDaemon;
    const jobs = await q.query<{ id: string; status: string }[]>('query-jobs');
    expect(jobs).toHaveLength(1);
    expect(['running', 'ready']).toContain(jobs[0]?.status);
    await guestWrite(q.nbd(DISK), 200 * MiB, MiB, 0x33);
    expected.write(200 * MiB, MiB, 0x33);

    const second = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    await expectFinished(expected);
  });

  it('after the pivot was recorded is finished by renames only: the top is never committed again', async () => {
    const { expected } = await setUp();
    const first = await applyKilledAt('rename_start');
    expect(first.killed, first.events.join('\n')).toBe(true);
    expect(await qemu?.query<unknown[]>('query-jobs')).toEqual([]);
    await guestWrite((qemu as StorageDaemon).nbd(DISK), 200 * MiB, MiB, 0x33);
    expected.write(200 * MiB, MiB, 0x33);
    // The stale top's data rewritten under it would be lost by a second commit; the plan has none.
    const plan = await lab.run(['plan', '--merge-direction', 'commit']);
    expect(plan.stdout).not.toContain('block-commit');
    expect(plan.stdout).toContain('rename');
    const second = await lab.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    await expectFinished(expected);
  });

  it.each(['commit', 'stream'] as const)(
    'is finished offline when QEMU itself dies in the middle of a %s: nothing is lost',
    async (direction) => {
      const { expected } = await setUp(direction === 'stream');
      const first = await applyKilledAt('move_progress', direction, 'qemu');
      expect(first.killed, first.events.join('\n')).toBe(true);
      await (qemu as StorageDaemon).stop();
      qemu = undefined;
      // Nothing holds the disk now: the offline engine resumes the merge the live one began.
      const plan = await lab.run(['plan']);
      expect(plan.stdout).toContain('resume');
      const second = await lab.run(['apply', '--auto-approve']);
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      const after = await lab.run(['plan', '--detailed-exitcode']);
      expect(after.exitCode, after.stdout + after.stderr).toBe(0);
      expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
    },
  );
});
