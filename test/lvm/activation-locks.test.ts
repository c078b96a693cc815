/**
 * In the lab VM over ssh: plans never activate anything and say what they did not verify,
 * apply restores the activation state it found; one applier per VG, with the lock on the LVM
 * host and released when the holder's ssh session dies; the worst-case VG size in validate and
 * plan. What the lock tests measure goes into
 * docs/reliability.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { CLI } from '../helpers/cli.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';
import { parseProbe, probeArgv } from '../../src/storage/lock-probe.js';

const DISK = 'vm-420-disk-0';

describe('activation and locks on LVM over ssh', () => {
  const lab = useLab({ disks: [{ sizeMiB: 1024 }] });
  let l: LvmLab;

  const config = (snaps: string[], sizeMiB = 16) =>
    l.writeConfig({
      disks: {
        [DISK]: {
          storage: 'vg_act',
          size: `${sizeMiB}MiB`,
          ...(snaps.length ? { snapshots: Object.fromEntries(snaps.map((s) => [s, {}])) } : {}),
        },
      },
    });
  const active = async () => {
    const r = await must(lab(), ['lvs', '--noheadings', '-o', 'lv_name,lv_active', 'vg_act']);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .map(([name, state]) => [name as string, state === 'active']),
    );
  };

  beforeAll(async () => {
    l = await LvmLab.create(lab(), 'vg_act', lab().devices[0]);
    await config(['s1']);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
  });
  afterAll(async () => l?.dispose());

  it('plan never activates an inactive chain and says it was not verified; apply activates, acts, and deactivates again', async () => {
    await must(lab(), ['lvchange', '-an', `vg_act/${DISK}.qcow2`, `vg_act/snap_${DISK}_s1.qcow2`]);
    const before = await active();
    expect(Object.values(before).every((a) => !a)).toBe(true);
    await config(['s1', 's2']);
    const plan = await l.run(['plan']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      `the chain is inactive and was not verified; it was planned from LV names and tags`,
    );
    expect(plan.stdout).toContain(`snapshot.${DISK}@s2 will be created`);
    expect(await active(), 'plan activated nothing').toEqual(before);
    const apply = await l.run(['apply', '--auto-approve']);
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    const after = await active();
    expect(Object.keys(after).sort()).toEqual([
      `snap_${DISK}_s1.qcow2`,
      `snap_${DISK}_s2.qcow2`,
      `${DISK}.qcow2`,
    ]);
    expect(
      Object.values(after).every((a) => !a),
      'the chain is inactive again',
    ).toBe(true);
    await must(lab(), [
      'lvchange',
      '-ay',
      `vg_act/${DISK}.qcow2`,
      `vg_act/snap_${DISK}_s1.qcow2`,
      `vg_act/snap_${DISK}_s2.qcow2`,
    ]);
    expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
  });

  it('validate and plan print what the declared disks take of the VG, as a cost paid up front', async () => {
    const validate = await l.run(['validate']);
    // Two pinned snapshots plus the top, each an LV sized for a 16 MiB qcow2 (20 MiB in 4 MiB extents).
    expect(validate.stdout).toContain(
      'storage vg_act: the declared disks take up to 60 MiB once their policies keep every snapshot they allow; thick LVM allocates each LV in full when it is made, so this is paid up front, whatever the guests write',
    );
    const plan = await l.run(['plan']);
    expect(plan.stdout).toMatch(
      /Up front on vg_act: the declared disks take up to 60 MiB once their policies keep every snapshot they allow \(thick LVM allocates each LV in full when it is made\); the VG holds 1020 MiB in all, [\d.]+ [KMG]?i?B of it free now/,
    );
  });

  describe('one applier per VG', () => {
    const LOCK = '/run/lock/lvchain/vg_act.lock';
    /** One entry per test that passed, for docs/reliability.md. */
    const facts = new Map<string, string>();
    afterAll(() => {
      if (facts.size < 2) return;
      writeSection(
        'locks:lvm',
        [
          '## Locks: thick LVM over ssh (lab VM)',
          '',
          generatedBy('test/lvm/activation-locks.test.ts'),
          '',
          ...[...facts.values()].map((f) => `- ${f}`),
        ].join('\n'),
      );
    });
    const apply = (extra: string[] = []) =>
      execa(
        'node',
        [CLI, '-c', l.configPath, 'apply', '--auto-approve', '--merge-direction', 'commit', ...extra],
        {
          cwd: l.dir,
          reject: false,
          detached: true,
          stdin: 'ignore',
          env: { NO_COLOR: '1' },
        },
      );

    beforeAll(async () => {
      // A merge with enough data to keep the first applier busy.
      await must(lab(), ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x61 0 12M', l.dev(`${DISK}.qcow2`)]);
      await config(['s1']);
    });

    it('two appliers at the same moment: one proceeds, the other fails with the lock info from the LVM host', async () => {
      const [a, b] = await Promise.all([apply(), apply()]);
      const results = [a, b].sort((x, y) => (x.exitCode ?? -1) - (y.exitCode ?? -1));
      expect(
        results.map((r) => r.exitCode),
        results.map((r) => String(r.stderr)).join('\n====\n'),
      ).toEqual([0, 1]);
      expect(String(results[1]?.stderr)).toMatch(
        /Error acquiring the storage lock \/run\/lock\/lvchain\/vg_act\.lock on root@127\.0\.0\.1:\d+/,
      );
      expect(String(results[1]?.stderr)).toMatch(/Operation: apply/);
      expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
      const block = String(results[1]?.stderr)
        .split('\n')
        .map((line) => line.replace(/^[│╷╵ ]+/, '').replace(/127\.0\.0\.1:\d+/, '<lab>'))
        .filter((line) => line.trim() !== '');
      facts.set(
        'concurrent',
        [
          'Two `lvchain apply` started at the same moment on one VG (a 12 MiB commit merge): one exits 0, the other exits 1 at once, without changing anything, and prints:',
          '',
          '  ```text',
          ...block.map((line) => `  ${line}`),
          '  ```',
          '',
          '  The chain then plans clean ("No changes.").',
        ].join('\n'),
      );
    });

    it('killing a holder and its ssh session releases the lock, and the interrupted merge resumes', async () => {
      const view = await remoteView(lab(), l.dev(`${DISK}.qcow2`), 0xe7);
      await config([]);
      const holder = apply(['--json']);
      await new Promise<void>((resolve) => {
        holder.stdout?.on('data', (chunk: Buffer) => {
          if (/"step_(start|complete)"/.test(chunk.toString())) resolve();
        });
      });
      process.kill(-(holder.pid as number), 'SIGKILL');
      const killedAt = performance.now();
      await holder;
      // The remote lock shell ends when its ssh session closes: poll the lock itself.
      let releasedMs: number | undefined;
      while (performance.now() - killedAt < 5_000) {
        const probe = await lab().run(probeArgv(LOCK));
        if (probe.exitCode === 0 && parseProbe(probe.stdout) === undefined) {
          releasedMs = performance.now() - killedAt;
          break;
        }
      }
      expect(releasedMs, 'the lock is released within 5 s of the kill').toBeDefined();
      // No stale lock: the next run gets it at once, and finishes the interrupted merge.
      const plan = await l.run(['plan']);
      expect(plan.stdout).not.toContain('is changing vg_act right now');
      // The remote lock shell ends when its ssh session closes; give it a moment, not a lock wait.
      const resumed = await l.run(['apply', '--auto-approve', '--lock-timeout', '5s']);
      expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
      expect((await remoteView(lab(), l.dev(`${DISK}.qcow2`), 0xe7)).digest).toBe(view.digest);
      expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
      facts.set(
        'killed',
        `A holder killed with SIGKILL (lvchain and its ssh clients) in the middle of its merge: the \`flock\` on the LVM host was free ${Math.round(releasedMs ?? 0)} ms after the kill (polled over ssh, so this includes a round trip under TCG); the next apply got the lock and resumed the merge, and the disk reads what it read before.`,
      );
    });
  });
});
