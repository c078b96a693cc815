/**
 * Proxmox's cluster storage lock around real LVM changes in the lab VM (issue 11, acceptance
 * 2). A plain directory (/srv/pve) stands in for /etc/pve: `hosts.lab.proxmox.root` points at
 * it, and its storage.cfg puts the VG under two storage IDs. The LVM tools that change metadata
 * are wrapped to log when each one runs; a shell loop holds one storage ID's lock as Proxmox's
 * cfs_lock_storage would, and logs its hold too. pmxcfs itself is not here: its expiry is
 * emulated by mtime age, as lvchain does on a root that is not pmxcfs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useLab } from '../lab/vm.js';
import { LvmLab, must } from '../helpers/lvmlab.js';
import { PVE_LOCK_EXPIRY_S } from '../../src/storage/proxmox/cluster-lock.js';

const VG = 'vg_pve';
const ROOT = '/srv/pve';
const LOCKS = `${ROOT}/priv/lock`;
const LOG = '/run/lvm-intervals';
const STORAGE_CFG = `lvm: labsan\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n\tsnapshot-as-volume-chain 1\n\nlvm: labsan-raw\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n`;

// Each wrapped tool logs "<tool> <start> <end>" around the real one (lvm is multi-call). A
// tool is slowed by the number of seconds in /run/slow-<tool>, to make one change run long.
const WRAPPER = `#!/bin/sh
tool=\${0##*/}
case "$tool $*" in lvchange*--addtag*|lvchange*--deltag*|vgchange*--addtag*|lvcreate*|lvextend*|lvrename*|lvremove*) log=1 ;; *) log= ;; esac
[ -z "$log" ] && exec /usr/bin/lvm "$tool" "$@"
start=$(date +%s.%N)
[ -f /run/slow-$tool ] && { : > /run/slow-started; sleep "$(cat /run/slow-$tool)"; }
/usr/bin/lvm "$tool" "$@"; rc=$?
echo "lvchain:$tool $start $(date +%s.%N)" >> ${LOG}
exit $rc
`;

// Proxmox's side: take storage-labsan-raw as cfs_lock_storage does (mkdir, retry), hold it
// for half a second as an LVM change would, log the hold, release it; until /run/holder-stop.
const HOLDER = `d=${LOCKS}/storage-labsan-raw
while [ ! -f /run/holder-stop ]; do
  if mkdir "$d" 2>/dev/null; then s=$(date +%s.%N); sleep 0.5; echo "proxmox $s $(date +%s.%N)" >> ${LOG}; rmdir "$d"; sleep 0.5
  else sleep 0.1; fi
done`;

// Proxmox's side for a storage that is not shared: its node-local flock, held for 8 s at first
// (lvchain's first change waits for it), then for half a second at a time, each hold logged,
// until /run/holder-stop.
const LOCAL_HOLDER = `f=/var/lock/pve-manager/pve-storage-labsan-raw; mkdir -p /var/lock/pve-manager
flock "$f" sh -c 's=$(date +%s.%N); sleep 8; echo "proxmox $s $(date +%s.%N)" >> ${LOG}'
while [ ! -f /run/holder-stop ]; do
  flock "$f" sh -c 's=$(date +%s.%N); sleep 0.5; echo "proxmox $s $(date +%s.%N)" >> ${LOG}'; sleep 0.5
done`;

// A patient waiter that expires a lock not renewed for 120 s, as pmxcfs does; logs when it got it.
const WAITER = `d=${LOCKS}/storage-labsan; end=$(( $(date +%s) + $1 ))
while [ "$(date +%s)" -lt "$end" ]; do
  find "$d" -maxdepth 0 -type d ! -newermt "@$(( $(date +%s) - ${PVE_LOCK_EXPIRY_S} ))" -delete 2>/dev/null
  if mkdir "$d" 2>/dev/null; then echo "waiter-took $(date +%s.%N)"; rmdir "$d"; exit 0; fi
  sleep 1
done
echo never`;

interface Interval {
  who: string;
  start: number;
  end: number;
}

/** Pairs of logged intervals (sorted by start) that overlap. */
function overlapsIn(log: readonly Interval[]): string[] {
  return log.flatMap((x, i) =>
    log
      .slice(i + 1)
      .filter((y) => y.start < x.end)
      .map((y) => `${x.who} ${x.start}-${x.end} and ${y.who} ${y.start}-${y.end}`),
  );
}

describe("Proxmox's cluster storage lock around LVM changes (lab VM, a directory for /etc/pve)", () => {
  const lab = useLab({ disks: [{ sizeMiB: 1024 }] });
  let a: LvmLab;
  let b: LvmLab;

  const intervals = async (): Promise<Interval[]> => {
    const r = await must(lab(), ['sh', '-c', `cat ${LOG} 2>/dev/null || true`]);
    return r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [who, start, end] = l.split(' ');
        return { who: who as string, start: Number(start), end: Number(end) };
      })
      .sort((x, y) => x.start - y.start);
  };
  const config = (l: LvmLab, disk: string, snaps: string[]) =>
    l.writeConfig({
      hosts: { lab: { ...(l.host().lab as object), proxmox: { root: ROOT } } },
      disks: {
        [disk]: {
          storage: VG,
          size: '8MiB',
          ...(snaps.length ? { snapshots: Object.fromEntries(snaps.map((s) => [s, {}])) } : {}),
        },
      },
    });

  beforeAll(async () => {
    a = await LvmLab.create(lab(), VG, lab().devices[0]);
    b = await LvmLab.create(lab(), VG, undefined, false);
    const install = [
      `mkdir -p ${ROOT}/priv && printf '%s' "$1" > ${ROOT}/storage.cfg`,
      'for t in lvcreate lvextend lvrename lvremove lvchange vgchange; do rm -f /usr/bin/$t; printf "%s" "$2" > /usr/bin/$t; chmod +x /usr/bin/$t; done',
    ].join('\n');
    await must(lab(), ['sh', '-c', install, 'install', STORAGE_CFG, WRAPPER]);
  });

  it('validate and plan say once that the host is a node and which storage IDs the VG is; plan reads the node in the round trip that observes the VG', async () => {
    await config(a, 'vm-500-disk-0', []);
    const validate = await a.run(['validate']);
    expect(validate.exitCode, validate.stderr).toBe(0);
    expect(validate.stdout).toContain(
      `  lab is a Proxmox VE node (${ROOT}, declared, a plain directory, not pmxcfs); VG ${VG} is storage labsan, labsan-raw\n`,
    );
    // Looking at the node rides in the round trip that observes the VG: as many as on a host that is none.
    const trips = async (proxmox: unknown) => {
      await a.writeConfig({
        hosts: { lab: { ...(a.host().lab as object), proxmox } },
        disks: { 'vm-500-disk-0': { storage: VG, size: '8MiB' } },
      });
      const log = join(a.dir, `commands-${String(proxmox !== false)}.ndjson`);
      const plan = await a.run(['--command-log', log, 'plan']);
      expect(plan.exitCode, plan.stderr).toBe(0);
      const remote = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { host: string; batched?: number })
        .filter((e) => e.host !== 'local');
      return { trips: remote.length, first: remote[0]?.batched ?? 1, stdout: plan.stdout };
    };
    const node = await trips({ root: ROOT });
    const none = await trips(false);
    const note = `${VG} is on a Proxmox VE node (${ROOT}, declared, a plain directory, not pmxcfs): its LVM changes take the storage locks of labsan, labsan-raw.`;
    expect(node.stdout.split(note)).toHaveLength(2);
    expect(none.stdout).not.toContain('is on a Proxmox VE node');
    expect(node.trips).toBe(none.trips);
    // stat of the root and cat of its storage.cfg; the VM list, the node's name, the configs'
    // lines about the declared disks and their VMs' snapshot facts (where VMs run).
    expect(node.first).toBe(none.first + 6);
  });

  // Two applies that wait up to 2m for each other's and the holder's locks, under TCG: the
  // default 120 s is too short on a loaded machine.
  it('two lvchain runs and a Proxmox holder never change the VG metadata at the same time', async () => {
    await config(a, 'vm-500-disk-0', ['s1']);
    await config(b, 'vm-501-disk-0', ['s1']);
    await must(lab(), ['rm', '-f', '/run/holder-stop']);
    const holder = lab().run(['sh', '-c', HOLDER]);
    const wait = ['apply', '--auto-approve', '--lock-timeout', '2m'];
    // The holder stops whatever happens, so a failure here leaves no lock behind for the next test.
    const [ra, rb] = await Promise.all([a.run(wait), b.run(wait)]).finally(async () => {
      await must(lab(), ['touch', '/run/holder-stop']);
      await holder;
    });
    expect(ra.exitCode, ra.stdout + ra.stderr).toBe(0);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    const log = await intervals();
    const ours = log.filter((i) => i.who.startsWith('lvchain:'));
    const theirs = log.filter((i) => i.who === 'proxmox');
    // Each run creates its disk and takes s1: creates, renames and tags, all logged.
    expect(ours.length, 'the wrapped LVM tools ran').toBeGreaterThanOrEqual(6);
    expect([...new Set(ours.map((i) => i.who))]).toEqual(
      expect.arrayContaining(['lvchain:lvcreate', 'lvchain:lvrename']),
    );
    const span = { start: ours[0]?.start ?? 0, end: Math.max(...ours.map((i) => i.end)) };
    expect(
      theirs.filter((i) => i.start < span.end && i.end > span.start).length,
      'Proxmox held the lock again and again while lvchain worked',
    ).toBeGreaterThan(3);
    expect(overlapsIn(log)).toEqual([]);
    expect((await must(lab(), ['ls', '-A', LOCKS])).stdout.trim()).toBe('');
    // The holder takes the lock for 0.5 s at a time: across a second's end the waiter sees it 1 s old.
    expect(ra.stderr + rb.stderr).toMatch(
      new RegExp(
        `Waiting up to 120s for Proxmox's storage lock ${LOCKS}/storage-labsan-raw: it is held, last renewed [01]s ago`,
      ),
    );
  }, 300_000);

  it('renews the lock while a change runs past the 120 s expiry: a waiter that expires old locks gets it only afterwards', async () => {
    await must(lab(), ['sh', '-c', `echo 135 > /run/slow-lvcreate; rm -f /run/slow-started; : > ${LOG}`]);
    await config(a, 'vm-500-disk-0', ['s1', 's2']);
    const run = a.run(['apply', '--auto-approve']);
    // The waiter starts once the slow lvcreate runs, under lvchain's lock.
    await must(lab(), ['sh', '-c', 'until [ -f /run/slow-started ]; do sleep 0.2; done']);
    const waiter = await must(lab(), ['sh', '-c', WAITER, 'waiter', '170']);
    const r = await run;
    await must(lab(), ['rm', '-f', '/run/slow-lvcreate']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).not.toContain('Stopping after the current step');
    const slow = (await intervals()).find((i) => i.who === 'lvchain:lvcreate');
    expect(slow, 'the slow lvcreate ran').toBeDefined();
    expect((slow?.end ?? 0) - (slow?.start ?? 0)).toBeGreaterThan(PVE_LOCK_EXPIRY_S + 10);
    const took = Number(/^waiter-took (\S+)$/m.exec(waiter.stdout)?.[1]);
    expect(took, waiter.stdout).toBeGreaterThan(slow?.end ?? Infinity);
  }, 240_000);

  it('reports a holder that vanished, and takes its lock once it has expired', async () => {
    const stale = `${LOCKS}/storage-labsan`;
    await must(lab(), ['sh', '-c', `mkdir -p ${stale} && touch -d @$(( $(date +%s) - 100 )) ${stale}`]);
    await config(a, 'vm-500-disk-0', ['s1', 's2', 's3']);
    const t0 = Date.now();
    const r = await a.run(['apply', '--auto-approve', '--lock-timeout', '1m']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(Date.now() - t0, 'it waited for the expiry').toBeGreaterThan(15_000);
    expect(r.stderr).toMatch(
      new RegExp(
        `Waiting up to 60s for Proxmox's storage lock ${stale}: it is held, last renewed 1[01]\\ds ago`,
      ),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `Took over Proxmox's storage lock ${stale}: its holder had not renewed it for 12\\ds and is gone`,
      ),
    );
    expect((await a.lvs()).has('snap_vm-500-disk-0_s3.qcow2')).toBe(true);
    expect((await must(lab(), ['ls', '-A', LOCKS])).stdout.trim()).toBe('');
  }, 120_000);

  it('stops after the change in flight when its lock is taken away, and the next apply resumes', async () => {
    await must(lab(), ['sh', '-c', 'echo 20 > /run/slow-lvcreate; rm -f /run/slow-started']);
    await config(a, 'vm-502-disk-0', ['s1']);
    const run = a.run(['apply', '--auto-approve']);
    await must(lab(), ['sh', '-c', 'until [ -f /run/slow-started ]; do sleep 0.2; done']);
    await must(lab(), ['rmdir', `${LOCKS}/storage-labsan`]);
    const r = await run;
    await must(lab(), ['rm', '-f', '/run/slow-lvcreate']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `Proxmox's storage lock ${LOCKS}/storage-labsan on \\S+ was removed while lvchain held it\\. Stopping after the current step`,
      ),
    );
    expect([...(await a.lvs()).keys()], 'nothing ran after the change in flight').not.toContain(
      'snap_vm-502-disk-0_s1.qcow2',
    );
    const again = await a.run(['apply', '--auto-approve']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect([...(await a.lvs()).keys()]).toEqual(
      expect.arrayContaining(['vm-502-disk-0.qcow2', 'snap_vm-502-disk-0_s1.qcow2']),
    );
    const plan = await a.run(['plan']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout, 'nothing is left to do for the disk').not.toMatch(/vm-502-disk-0\S* will be/);
    expect((await must(lab(), ['ls', '-A', LOCKS])).stdout.trim()).toBe('');
  }, 180_000);

  it("records each merge's time on the VG under the storage lock, and the next plan estimates from it", async () => {
    const vgTags = async () =>
      (await must(lab(), ['vgs', '--noheadings', '-o', 'vg_tags', VG])).stdout.trim().split(',');
    const records = async () => (await vgTags()).filter((t) => t.startsWith('lvchain.merges='));
    const disk = 'vm-503-disk-0';
    const chain = [`${VG}/${disk}.qcow2`, `${VG}/snap_${disk}_s1.qcow2`];
    /**
     * s1, then 4 MiB written into the top above it. The node deactivates a chain after apply;
     * it is left active here so that plan can read what a merge copies.
     */
    const mergeDue = async (pattern: number) => {
      await config(a, disk, ['s1']);
      const r = await a.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      await must(lab(), ['lvchange', '-ay', ...chain]);
      await must(lab(), ['qemu-io', '-f', 'qcow2', '-c', `write -P ${pattern} 0 4M`, `/dev/${chain[0]}`]);
      await config(a, disk, []);
    };
    expect(await records()).toEqual([]);
    await mergeDue(0x21);
    const before = await a.run(['plan', '--merge-direction', 'commit']);
    expect(before.stdout).toMatch(/at an assumed 50 MiB\/s, as vg_pve has no merge on record yet/);
    await must(lab(), ['sh', '-c', `: > ${LOG}; rm -f /run/holder-stop`]);
    const holder = lab().run(['sh', '-c', HOLDER]);
    const r = await a
      .run(['apply', '--auto-approve', '--merge-direction', 'commit', '--lock-timeout', '2m'])
      .finally(async () => {
        await must(lab(), ['touch', '/run/holder-stop']);
        await holder;
      });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const record = await records();
    expect(record, 'one record tag').toHaveLength(1);
    expect(record[0]).toMatch(/^lvchain\.merges=\d+:\d+$/);
    const log = await intervals();
    expect(log.map((i) => i.who)).toContain('lvchain:vgchange');
    expect(overlapsIn(log)).toEqual([]);
    expect((await must(lab(), ['ls', '-A', LOCKS])).stdout.trim()).toBe('');
    // The next merge is estimated from the one on record, and joins it.
    await mergeDue(0x22);
    const next = await a.run(['plan', '--merge-direction', 'commit']);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toMatch(
      /time: (about \d+ s|under a second) at [\d.]+ [KMG]?i?B\/s, measured over 1 recent merge on vg_pve/,
    );
    // Applied from an inactive chain, as a node leaves it: the plan cannot know the bytes, so the
    // record takes those read when apply activates it.
    await must(lab(), ['lvchange', '-an', ...chain]);
    // The plan bounds what it cannot read: a commit copies at most the child's virtual size.
    const blind = await a.run(['plan', '--merge-direction', 'commit']);
    expect(blind.exitCode, blind.stderr).toBe(0);
    expect(blind.stdout).toContain('commit would copy unknown, at most 8 MiB');
    expect(blind.stdout).toMatch(
      /time: (at most \d+ s|under a second) at [\d.]+ [KMG]?i?B\/s, measured over 1 recent merge/,
    );
    expect(blind.stdout).toMatch(
      /^Plan: 0 to add, 0 to change, 0 to destroy; 1 snapshot to merge away \(up to 8 MiB to copy, from chains not read now, (at most \d+ s|under a second)\)\.$/m,
    );
    const again = await a.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const two = await records();
    expect(two).toHaveLength(1);
    const samples = [...(two[0] ?? '').matchAll(/(\d+):(\d+)/g)].map((m) => Number(m[1]));
    expect(samples).toHaveLength(2);
    for (const bytes of samples) expect(bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
  }, 300_000);

  it('locks a storage ID that is not shared as Proxmox does, with its node-local flock', async () => {
    const local = STORAGE_CFG.replace(
      'lvm: labsan-raw\n\tvgname vg_pve\n\tcontent images\n\tshared 1\n',
      'lvm: labsan-raw\n\tvgname vg_pve\n\tcontent images\n',
    );
    expect(local, 'labsan-raw is not shared now').not.toBe(STORAGE_CFG);
    const cfg = (text: string) =>
      must(lab(), ['sh', '-c', `printf '%s' "$1" > ${ROOT}/storage.cfg`, 'cfg', text]);
    await cfg(local);
    await must(lab(), ['sh', '-c', `: > ${LOG}; rm -f /run/holder-stop`]);
    await config(a, 'vm-504-disk-0', ['s1']);
    const holder = lab().run(['sh', '-c', LOCAL_HOLDER]);
    const r = await a.run(['apply', '--auto-approve', '--lock-timeout', '2m']).finally(async () => {
      await must(lab(), ['touch', '/run/holder-stop']);
      await holder;
      await cfg(STORAGE_CFG);
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "for Proxmox's storage lock /var/lock/pve-manager/pve-storage-labsan-raw: a process on the node holds this flock",
    );
    const log = await intervals();
    const ours = log.filter((i) => i.who.startsWith('lvchain:'));
    expect(ours.length, 'the wrapped LVM tools ran').toBeGreaterThanOrEqual(3);
    const span = { start: ours[0]?.start ?? 0, end: Math.max(...ours.map((i) => i.end)) };
    expect(
      log.filter((i) => i.who === 'proxmox' && i.start < span.end && i.end > span.start).length,
      'Proxmox held its flock again and again while lvchain worked',
    ).toBeGreaterThan(2);
    expect(overlapsIn(log)).toEqual([]);
    // labsan keeps its cluster lock; nothing is left behind.
    expect((await must(lab(), ['ls', '-A', LOCKS])).stdout.trim()).toBe('');
  }, 300_000);
});
