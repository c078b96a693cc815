/**
 * Issue 12 on LVM in the lab VM, over ssh: a guest's two disks rolled back together (with and
 * without --discard-newer), read back byte for byte; `list` checked against `lvs`; and a
 * policy's hooks run on the storage's host, whose failure or timeout skips the snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { hookedGuest, pinned } from '../helpers/configs.js';

const MiB = 2 ** 20;
const HOUR = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();
/** No byte of interest is 0xee: remoteView counts it, and only the digest matters here. */
const NO_MARKER = 0xee;

describe('a guest on LVM over ssh', () => {
  const lab = useLab({ disks: [{ sizeMiB: 384 }, { sizeMiB: 384 }] });
  const labs: LvmLab[] = [];
  afterAll(async () => Promise.all(labs.map((l) => l.dispose())));

  describe('rollback of its two disks, and list', () => {
    const VG = 'vg_guest';
    const DISKS = ['vm-882-disk-0', 'vm-882-disk-1'];
    let lvm: LvmLab;
    /** The guest-visible view of each disk at s1 and at s2, read from the snapshot LVs when they were taken. */
    const views: Record<'s1' | 's2', string[]> = { s1: [], s2: [] };
    const config = (snapshots: string[]) =>
      lvm.writeConfig({
        guests: {
          web: {
            storage: VG,
            disks: Object.fromEntries(DISKS.map((d) => [d, { size: '16MiB' }])),
            ...pinned(snapshots),
          },
        },
      });
    const write = async (at: number, pattern: number) => {
      for (const [i, d] of DISKS.entries())
        await must(lab(), [
          'qemu-io',
          '-f',
          'qcow2',
          '-c',
          `write -P ${pattern + i} ${at * MiB} 1M`,
          lvm.dev(`${d}.qcow2`),
        ]);
    };
    const view = (lv: string) => remoteView(lab(), lvm.dev(lv), NO_MARKER).then((v) => v.digest);
    const apply = async () => {
      const r = await lvm.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    };
    /** s1 and s2 with different data on each disk, and more written after them. */
    const history = async () => {
      await config([]);
      await apply();
      await write(0, 0x11);
      await config(['s1']);
      await apply();
      views.s1 = await Promise.all(DISKS.map((d) => view(`snap_${d}_s1.qcow2`)));
      await write(1, 0x21);
      await config(['s1', 's2']);
      await apply();
      views.s2 = await Promise.all(DISKS.map((d) => view(`snap_${d}_s2.qcow2`)));
      await write(2, 0x31);
    };

    beforeAll(async () => {
      lvm = await LvmLab.create(lab(), VG, lab().devices[0]);
      labs.push(lvm);
      await history();
    });

    it('list shows each disk with the LVs and space lvs reports, and its newest snapshot', async () => {
      const r = await lvm.run(['list', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const rows = (
        JSON.parse(r.stdout) as {
          disks: {
            disk: string;
            storage: string;
            guest?: string;
            layers: number;
            snapshots: number;
            allocated: number;
            last?: { snap: string };
          }[];
        }
      ).disks;
      const lvs = await lvm.lvs();
      expect(rows.map((x) => x.disk)).toEqual(DISKS);
      for (const row of rows) {
        const mine = [...lvs.entries()].filter(
          ([name]) => name === `${row.disk}.qcow2` || name.startsWith(`snap_${row.disk}_`),
        );
        expect(row).toMatchObject({
          storage: VG,
          guest: 'web',
          layers: mine.length,
          snapshots: mine.length - 1,
        });
        expect(mine.length).toBe(3);
        expect(row.allocated).toBe(mine.reduce((sum, [, lv]) => sum + Number(lv.size), 0));
        expect(row.last?.snap).toBe('s2');
      }
      const text = await lvm.run(['list']);
      expect(text.stdout.split('\n').find((l) => l.startsWith(DISKS[0] as string))).toMatch(
        new RegExp(`^${DISKS[0]}\\s+${VG}\\s+web\\s+16 MiB\\s+3\\s`),
      );
    });

    it('rolls both disks back to the newest snapshot together; a later plan has nothing to do', async () => {
      const r = await lvm.run(['rollback', 'web', 's2', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      for (const [i, d] of DISKS.entries()) expect(await view(`${d}.qcow2`), d).toBe(views.s2[i]);
      const after = await lvm.run(['plan', '--detailed-exitcode']);
      expect(after.exitCode, after.stdout + after.stderr).toBe(0);
      expect(after.stdout).toContain('No changes');
    });

    it('with --discard-newer drops s2 from both disks: no orphan LV, both read s1', async () => {
      await write(3, 0x41);
      const r = await lvm.run(['rollback', 'web', 's1', '--discard-newer', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const lvs = await lvm.lvs();
      for (const [i, d] of DISKS.entries()) {
        expect(await view(`${d}.qcow2`), d).toBe(views.s1[i]);
        expect(await view(`snap_${d}_s1.qcow2`), d).toBe(views.s1[i]);
        expect(lvs.has(`snap_${d}_s2.qcow2`), `${d} keeps s2`).toBe(false);
      }
      await config(['s1']);
      const after = await lvm.run(['plan', '--detailed-exitcode']);
      expect(after.exitCode, after.stdout + after.stderr).toBe(0);
      expect(after.stdout).toContain('No changes');
    });
  });

  describe('snapshot hooks on the storage host', () => {
    const VG = 'vg_hooks';
    const DISKS = ['vm-881-disk-0', 'vm-881-disk-1'];
    let lvm: LvmLab;
    const LOG = '/root/hooks.log';
    /** A hook script in the lab VM that logs its name, environment and the snapshot LVs it sees, then does `tail`. */
    const hook = async (name: string, tail: string) => {
      const path = `/root/${name}.sh`;
      const body = `#!/bin/sh\nprintf '%s %s|%s|%s|%s lvs=%s\\n' ${name} "$LVCHAIN_GUEST" "$LVCHAIN_DISKS" "$LVCHAIN_SNAPSHOT" "$LVCHAIN_STORAGE" "$(lvs --noheadings -o lv_name ${VG} | grep -c snap_)" >> ${LOG}\n${tail}\n`;
      await must(lab(), ['sh', '-c', `printf '%s' "$2" > "$1" && chmod 755 "$1"`, 'write', path, body]);
      return path;
    };
    const config = (pre: string, post: string, timeout: string) =>
      lvm.writeConfig(hookedGuest({ storage: VG, disks: DISKS, size: '16MiB', pre, post, timeout }));
    const log = async () => (await lab().run(['cat', LOG])).stdout.trim().split('\n').filter(Boolean);
    const snapshotLvs = async () => [...(await lvm.lvs()).keys()].filter((n) => n.startsWith('snap_')).length;
    /** Three hours that have passed, one per apply: apply refuses a --now ahead of the clock. */
    const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;

    beforeAll(async () => {
      lvm = await LvmLab.create(lab(), VG, lab().devices[1]);
      labs.push(lvm);
      await must(lab(), ['rm', '-f', LOG]);
    });

    it('a pre-hook and post-hook that succeed run once around the guest snapshot, told what it is', async () => {
      await config(await hook('pre', 'exit 0'), await hook('post', 'exit 0'), '5s');
      const plan = await lvm.run(['plan', '--now', iso(hour)]);
      expect(plan.stdout).toContain('pre-snapshot hook (once for the snapshot, 5 s at most):');
      const r = await lvm.run(['apply', '--auto-approve', '--now', iso(hour)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const snap = `auto-${iso(hour).slice(0, 16).replace(/[-:]/g, '')}Z`;
      // The pre-hook ran before any snapshot LV existed; the post-hook saw both disks' snapshot LVs.
      expect(await log()).toEqual([
        `pre db|${DISKS.join(' ')}|${snap}|${VG} lvs=0`,
        `post db|${DISKS.join(' ')}|${snap}|${VG} lvs=2`,
      ]);
      expect(await snapshotLvs()).toBe(2);
    });

    it('a failing pre-hook skips the snapshot and exits non-zero; the post-hook still runs', async () => {
      await must(lab(), ['rm', '-f', LOG]);
      await config(await hook('pre', 'echo database busy >&2; exit 3'), await hook('post', 'exit 0'), '5s');
      const r = await lvm.run(['apply', '--auto-approve', '--now', iso(hour + HOUR)]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout + r.stderr).toMatch(
        /the pre-snapshot hook \/root\/pre\.sh on root@127\.0\.0\.1:\d+ exited with 3: database busy; the snapshot is skipped/,
      );
      expect(await snapshotLvs()).toBe(2);
      expect((await log()).map((l) => l.split(' ')[0])).toEqual(['pre', 'post']);
    });

    it('a pre-hook that outlives its timeout is stopped on the host, and the snapshot is skipped', async () => {
      await config(await hook('pre', 'sleep 300'), await hook('post', 'exit 0'), '1s');
      const started = Date.now();
      const r = await lvm.run(['apply', '--auto-approve', '--now', iso(hour + 2 * HOUR)]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout + r.stderr).toMatch(
        /pre\.sh on root@127\.0\.0\.1:\d+ did not finish within 1 s and was stopped; the snapshot is skipped/,
      );
      expect(Date.now() - started).toBeLessThan(25_000);
      expect(await snapshotLvs()).toBe(2);
      // Nothing of the hook is left running on the host.
      const procs = await must(lab(), [
        'sh',
        '-c',
        'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done',
      ]);
      expect(procs.stdout).not.toContain('sleep 300');
    });
  });
});
