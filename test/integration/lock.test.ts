/** One applier per storage, across processes. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DirLab } from '../helpers/dirlab.js';
import { CLI } from '../helpers/cli.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { acquireLock } from '../../src/apply/lock.js';
import { LocalExecutor } from '../../src/exec/local.js';

const MiB = 1024 * 1024;
const DISK = 'vm-750-disk-0';
const labs: DirLab[] = [];

beforeAll(() => requireTool('qemu-img', 'qemu-utils'));
afterEach(async () => Promise.all(labs.splice(0).map((l) => l.dispose())));

/** A disk whose snapshot s1 holds `dataMiB` that a commit merge has to move. */
async function mergeFixture(dataMiB: number): Promise<{ lab: DirLab; expected: ExpectedDisk }> {
  const lab = await DirLab.create();
  labs.push(lab);
  const size = 1024;
  await lab.writeConfig({ [DISK]: { size: `${size}MiB`, snapshots: ['s1'] } });
  await lab.apply();
  const expected = new ExpectedDisk(size * MiB);
  await writePattern(lab.top(DISK), 0, dataMiB * MiB, 0x5a);
  expected.write(0, dataMiB * MiB, 0x5a);
  await lab.writeConfig({ [DISK]: { size: `${size}MiB` } });
  return { lab, expected };
}

function applyProcess(lab: DirLab, extra: string[] = []) {
  return execa(
    'node',
    [CLI, '-c', lab.configPath, 'apply', '--auto-approve', '--merge-direction', 'commit', ...extra],
    {
      cwd: lab.root,
      reject: false,
      env: { NO_COLOR: '1' },
      stdin: 'ignore',
    },
  );
}

describe('storage locks', () => {
  it('two appliers started at the same moment: exactly one proceeds, the other fails with the lock info', async () => {
    // A merge long enough that the second process asks for the lock while the first holds it.
    const { lab, expected } = await mergeFixture(960);
    const [a, b] = await Promise.all([applyProcess(lab), applyProcess(lab)]);
    const results = [a, b].sort((x, y) => (x.exitCode ?? -1) - (y.exitCode ?? -1));
    const outputs = results
      .map((r) => `${String(r.stdout).slice(-400)}\n${String(r.stderr).slice(-800)}`)
      .join('\n=====\n');
    expect(
      results.map((r) => r.exitCode),
      outputs,
    ).toEqual([0, 1]);
    const loser = String(results[1]?.stderr);
    expect(loser).toContain('Error acquiring the storage lock');
    expect(loser).toMatch(
      /Lock Info:\n.*ID: +[0-9a-f-]{36}\n.*Path: +\S+\.lvchain\.lock on local\n.*Operation: apply\n.*Who: +\S+@\S+/,
    );
    expect(loser).toMatch(/lvchain force-unlock [0-9a-f-]{36}/);
    expect(String(results[0]?.stdout)).toContain(
      'Apply complete! Resources: 0 added, 0 changed, 0 destroyed; 1 snapshot merged away.',
    );
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
    expect((await lab.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
  });

  it('with --lock-timeout the second waits, then plans against what the first left: no changes', async () => {
    const { lab, expected } = await mergeFixture(960);
    const first = applyProcess(lab);
    await new Promise((r) => setTimeout(r, 400));
    const second = await applyProcess(lab, ['--lock-timeout', '60s']);
    const firstDone = await first;
    expect(firstDone.exitCode, String(firstDone.stderr)).toBe(0);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    expect(String(second.stdout)).toContain('No changes.');
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
  });

  it('plan needs no lock and says an apply is in progress; the holder can be force-unlocked', async () => {
    const { lab } = await mergeFixture(8);
    const exec = new LocalExecutor();
    const held = await acquireLock({
      exec,
      path: `${lab.storePath}/.lvchain.lock`,
      operation: 'apply',
      info: 'a test holder',
      timeoutMs: 0,
    });
    try {
      const plan = await lab.run(['plan']);
      expect(plan.exitCode).toBe(0);
      expect(plan.stdout).toMatch(
        new RegExp(
          `an lvchain run is changing lab right now: apply by \\S+ since \\S+ \\(lock ${held.info.id}\\)`,
        ),
      );
      const blocked = await lab.run(['apply', '--auto-approve']);
      expect(blocked.exitCode).toBe(1);
      expect(blocked.stderr).toContain(held.info.id);
      expect(blocked.stderr).toContain('Info:      a test holder');
      const wrong = await lab.run(['force-unlock', '00000000-0000-0000-0000-000000000000', '--force']);
      expect(wrong.exitCode).toBe(1);
      const unlocked = await lab.run(['force-unlock', held.info.id, '--force']);
      expect(unlocked.exitCode, unlocked.stderr).toBe(0);
      expect(
        await Promise.race([held.lost, new Promise((r) => setTimeout(() => r('still held'), 5000))]),
      ).toMatch(/was taken away/);
      expect((await lab.run(['apply', '--auto-approve'])).exitCode).toBe(0);
    } finally {
      await held.release();
      await exec.close();
    }
  });

  it('a run whose lock is force-unlocked says its lock was taken away, and the next apply finishes', async () => {
    const { lab, expected } = await mergeFixture(960);
    const info = `${lab.storePath}/.lvchain.lock.info`;
    // The info file outlives its lock: the earlier applies left theirs.
    const holder = async () =>
      existsSync(info) ? (JSON.parse(await readFile(info, 'utf8')) as { id?: string }).id : undefined;
    const earlier = await holder();
    const running = applyProcess(lab);
    let id: string | undefined;
    for (let i = 0; i < 400 && (id === undefined || id === earlier); i++) {
      await new Promise((r) => setTimeout(r, 25));
      id = await holder();
    }
    expect(id, 'the apply took its lock').not.toBe(earlier);
    const unlocked = await lab.run(['force-unlock', id as string, '--force']);
    expect(unlocked.exitCode, unlocked.stderr).toBe(0);
    const r = await running;
    const stderr = String(r.stderr);
    expect(r.exitCode, stderr).toBe(1);
    const taken = `the storage lock of this run on ${lab.storePath}/.lvchain.lock (local) was taken away`;
    expect(stderr).toContain(`${taken}: its holding process ended (by "lvchain force-unlock"`);
    expect(stderr).toContain(`Apply interrupted: ${taken}`);
    await lab.apply();
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
  });

  it('a holder that is killed releases the lock, and its interrupted merge is resumed', async () => {
    const { lab, expected } = await mergeFixture(768);
    const child = execa(
      'node',
      [CLI, '-c', lab.configPath, 'apply', '--auto-approve', '--merge-direction', 'commit', '--json'],
      {
        cwd: lab.root,
        reject: false,
        detached: true,
        stdin: 'ignore',
      },
    );
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('"step_progress"')) resolve();
      });
    });
    process.kill(-(child.pid as number), 'SIGKILL');
    await child;
    const plan = await lab.run(['plan']);
    expect(plan.stdout).toContain('will finish an interrupted operation');
    const again = await lab.run(['apply', '--auto-approve']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
    expect((await lab.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
  });
});
