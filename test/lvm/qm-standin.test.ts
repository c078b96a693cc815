/**
 * The `qm` stand-in (test/lab/qm, NOT Proxmox's qm) on real LVM in the lab VM: `qm snapshot`,
 * `qm delsnapshot` (the oldest snapshot: commit; a middle one: rebase) and `qm rollback` on a
 * stopped VM whose disk is a qcow2 chain on an `lvm` storage with `snapshot-as-volume-chain 1`.
 * A plain directory (/srv/pve, $QM_STANDIN_ROOT) stands in for /etc/pve. The LVM tools and
 * qemu-img are wrapped to log each call and whether Proxmox's storage lock
 * (priv/lock/storage-san1) was held then, so every command sequence is checked against the
 * reference's (§4.1, §5.1, §6), lock included. After each command: the VM config's text, the
 * LVs, each layer's backing file, and what each snapshot and the top read. Refusals exit 2 and
 * change nothing. Last, `qm delsnapshot` of a snapshot with a saved RAM state (`vmstate:`, a raw
 * LV): the state LV is freed first, under the lock, and its config line goes before the disks'.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/vm.js';
import { must, remoteView, remoteWriteMiB } from '../helpers/lvmlab.js';
import { installQmStandIn } from '../lab/two-nodes.js';
import { ProxmoxSequences } from '../helpers/proxmox-sequences.js';

const VG = 'vg_san1';
const DISK = 'vm-101-disk-0';
const ROOT = '/srv/pve';
const LOCK = `${ROOT}/priv/lock/storage-san1`;
const CALLS = '/run/qm-calls';
const PIDFILE = '/var/run/qemu-server/101.pid';
const MiB = 1024 * 1024;
const PREFIX = 'qm stand-in (lvchain lab): ';
/** Where the wrapped tools log the config's lock, snapstate and vmstate lines, when asked to. */
const WATCHED = '/run/qm-watched';

const STORAGE_CFG =
  `lvm: san1\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n\tsnapshot-as-volume-chain 1\n\n` +
  `dir: local\n\tpath /var/lib/vz\n\tcontent images\n`;
const DISK_LINE = `scsi0: san1:${DISK}.qcow2,size=16M`;
/** The VM's own keys, as Proxmox sorts them; the CD-ROM drive is no disk to snapshot. */
const KEYS = `boot: order=scsi0\nide2: none,media=cdrom\nmemory: 512\nname: vm101\n${DISK_LINE}\nscsihw: virtio-scsi-single\n`;
/** The main section's own description, written percent-encoded: it stays there. */
const MAIN_DESCRIPTION = '#lab VM%3A 101\n';
const DESCRIPTION = 'before upgrade: café 100%';

/** Proxmox's activation of the chain (§8), and its `lvs` before a rename. */
const SELECT = `vg_name = "${VG}" && lv_name =~ '^(${DISK}|snap_${DISK}_.+)\\.qcow2$'`;
const activate = (lock: 'held' | 'free') => [
  `${lock} lvchange -aey --select ${SELECT}`,
  `${lock} lvchange --refresh --select ${SELECT}`,
];
const LVS = `held lvs --separator : --noheadings --units b --unbuffered --nosuffix --config report/time_format="%s" --options vg_name,lv_name,lv_size,lv_attr,pool_lv,data_percent,metadata_percent,snap_percent,uuid,tags,metadata_size,time ${VG}`;
const VGS =
  'held vgs --separator : --noheadings --units b --unbuffered --nosuffix --options vg_name,vg_size,vg_free,lv_count';

/**
 * The RAM state of a snapshot s7, as `__snapshot_save_vmstate` allocates it with `vdisk_alloc`
 * on this storage: a raw LV `vm-<vmid>-state-<snap>` of (2 × memory + 500 MiB), here 2 × 512 +
 * 500 MiB, created with `LVMPlugin::lvcreate`'s argv (reference §1.1) and only the VM's tag (the
 * volume-name tag is for qcow2 only). The section gets `vmstate:` and what QEMU ran with.
 */
const STATE = 'vm-101-state-s7';
const STATE_KiB = (2 * 512 + 500) * 1024;
const STATE_LVCREATE = [
  'lvcreate',
  '-aly',
  '-Wy',
  '--yes',
  '--size',
  `${STATE_KiB}k`,
  '--name',
  STATE,
  '--setautoactivation',
  'n',
  '--addtag',
  'pve-vm-101',
  VG,
];
const RUNNING =
  'runningcpu: qemu64,+aes,enforce,+kvm_pv_eoi,+kvm_pv_unhalt,+pni,+popcnt,+sse4.1,+sse4.2,+ssse3\nrunningmachine: pc-i440fx-10.0+pve0\n';

const lv = (snap: string) => (snap === 'current' ? `${DISK}.qcow2` : `snap_${DISK}_${snap}.qcow2`);
const dev = (snap: string) => `/dev/${VG}/${lv(snap)}`;

// Each wrapped tool logs "<held|free> <tool> <argv>" and runs the real one (lvm is multi-call).
// With $QM_WATCH (a VM config) set, it also logs "<tool>: " and that config's lock, snapstate
// and vmstate lines then.
const WRAPPER = (real: string) => `#!/bin/sh
t=\${0##*/}
if [ -d ${LOCK} ]; then h=held; else h=free; fi
echo "$h $t $*" >> ${CALLS}
[ -z "\${QM_WATCH:-}" ] || echo "$t: $(grep -E '^(lock|snapstate|vmstate):' "$QM_WATCH" | tr '\\n' ' ')" >> ${WATCHED}
exec ${real} "$@"
`;
const WRAP = `set -e
for t in lvchange lvs vgs lvrename lvcreate lvremove lvextend; do
  rm -f /usr/bin/$t; printf '%s' "$1" > /usr/bin/$t; chmod 755 /usr/bin/$t
done
mv /usr/bin/qemu-img /usr/bin/qemu-img.real
printf '%s' "$2" > /usr/bin/qemu-img; chmod 755 /usr/bin/qemu-img`;

describe('the qm stand-in: snapshot, delsnapshot and rollback of a stopped VM on real LVM', () => {
  // Room for the RAM state LV (1524 MiB) beside the chain; the disk file is sparse.
  const lab = useLab({ disks: [{ sizeMiB: 2048 }] });
  let conf: string;
  /** The LV size Proxmox gives every new top of this 16 MiB disk (qemu-img measure, KiB). */
  let topKiB: number;
  /** What each layer showed when it was frozen, and what the top shows now. */
  const views = new Map<string, string>();

  const sh = (script: string, ...args: string[]) => must(lab(), ['sh', '-c', script, 'sh', ...args]);
  const qm = (...args: string[]) => lab().run(['env', `QM_STANDIN_ROOT=${ROOT}`, 'qm', ...args]);
  /** Runs qm and returns what it did: its result and the logged tool calls. */
  const qmLogged = async (...args: string[]) => {
    await sh(`: > ${CALLS}`);
    const r = await qm(...args);
    const calls = (await sh(`cat ${CALLS}`)).stdout.trim().split('\n').filter(Boolean);
    return { ...r, calls };
  };
  const vmTime = async () => Number((await sh('date +%s')).stdout.trim());
  const config = async () => (await sh('cat "$1"', conf)).stdout;
  const write = (pattern: number, offsetMiB: number) =>
    remoteWriteMiB(lab(), dev('current'), pattern, offsetMiB);
  const view = async (snap: string) => (await remoteView(lab(), dev(snap), 0)).digest;
  /** name → uuid of the disk's LVs. */
  const lvs = async () => {
    const r = await must(lab(), ['lvs', '--noheadings', '--separator', ' ', '-o', 'lv_name,lv_uuid', VG]);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(' ') as [string, string]),
    );
  };
  const backingOf = async (snap: string) => {
    const info = JSON.parse((await must(lab(), ['qemu-img', 'info', '--output=json', dev(snap)])).stdout) as {
      'backing-filename'?: string;
      'backing-filename-format'?: string;
    };
    return info['backing-filename'] === undefined
      ? undefined
      : `${info['backing-filename']} (${info['backing-filename-format']})`;
  };
  /** The chain, top first: each layer and what its header names as its backing file. */
  const chainOf = async (snaps: string[]) => {
    const out: Record<string, string | undefined> = {};
    for (const s of ['current', ...snaps]) out[s] = await backingOf(s);
    return out;
  };
  const expectViews = async (snaps: string[]) => {
    for (const s of ['current', ...snaps]) expect(await view(s), `what ${s} shows`).toBe(views.get(s));
  };
  const expectNoLockLeft = async () => {
    expect((await sh(`ls -A ${ROOT}/priv/lock`)).stdout).toBe('');
    expect(await config()).not.toMatch(/^(lock|snapstate):/m);
  };
  /** A section of a snapshot taken at `time`: the VM's keys then, its parent, its description. */
  const section = (name: string, time: number, parent?: string, description = '') =>
    `\n[${name}]\n${description}${KEYS.replace('scsi0:', `${parent ? `parent: ${parent}\n` : ''}scsi0:`)}snaptime: ${time}\n`;
  const main = (parent: string) =>
    `${MAIN_DESCRIPTION}${KEYS.replace('scsi0:', `parent: ${parent}\nscsi0:`)}`;

  /** Snapshot with qm and check the command sequence; returns the snaptime window. */
  async function snapshot(name: string, ...options: string[]): Promise<{ before: number; after: number }> {
    const frozen = await view('current');
    const before = await vmTime();
    const r = await qmLogged('snapshot', '101', name, ...options);
    const after = await vmTime();
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`snapshotting 'drive-scsi0' (san1:${DISK}.qcow2)`);
    // §4.1, all under the storage lock: activate, lvs then rename, info, measure, lvcreate,
    // activate, format on the renamed layer (and alloc_lvm_image's vgs).
    expect(r.calls).toEqual([
      ...activate('held'),
      LVS,
      `held lvrename ${VG} ${lv('current')} ${lv(name)}`,
      `held qemu-img info --output=json ${dev(name)} -f qcow2`,
      VGS,
      'held qemu-img measure --output=json --size 16384K -O qcow2 -o extended_l2=on,cluster_size=128k',
      `held lvcreate -aly -Wy --yes --size ${topKiB}k --name ${lv('current')} --setautoactivation n --addtag pve-vm-101 --addtag @pve-${lv('current')} ${VG}`,
      ...activate('held'),
      `held qemu-img create -F qcow2 -b ${lv(name)} -f qcow2 ${dev('current')} -o extended_l2=on,cluster_size=128k,preallocation=metadata`,
    ]);
    views.set(name, frozen);
    views.set('current', frozen);
    return { before, after };
  }
  const snaptimeOf = (text: string, name: string) =>
    Number(new RegExp(`\\[${name}\\][^[]*?snaptime: (\\d+)`).exec(text)?.[1]);

  beforeAll(async () => {
    const vm = lab();
    await installQmStandIn(vm);
    const node = (await sh('uname -n')).stdout.trim().split('.')[0] as string;
    conf = `${ROOT}/nodes/${node}/qemu-server/101.conf`;
    const files: Record<string, string> = {
      'storage.cfg': STORAGE_CFG,
      '.vmlist': JSON.stringify({ version: 1, ids: { '101': { node, type: 'qemu', version: 1 } } }),
      [`nodes/${node}/qemu-server/101.conf`]: `${MAIN_DESCRIPTION}${KEYS}`,
      // A VM whose disk is on a directory storage, and one on another node.
      [`nodes/${node}/qemu-server/102.conf`]: KEYS.replace(
        DISK_LINE,
        'scsi0: local:102/vm-102-disk-0.qcow2,size=16M',
      ),
      'nodes/elsewhere/qemu-server/103.conf': KEYS,
    };
    await sh(`mkdir -p ${ROOT}/priv /var/run/qemu-server`);
    for (const [path, text] of Object.entries(files))
      await sh('mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"', `${ROOT}/${path}`, text);
    // The disk as Proxmox allocates a new qcow2 volume (§2, §3): LV sized by qemu-img measure.
    await must(vm, ['pvcreate', '-y', vm.devices[0] as string]);
    await must(vm, ['vgcreate', VG, vm.devices[0] as string]);
    topKiB = await new ProxmoxSequences(vm, VG, DISK).allocate(16384);
    await write(0x11, 0);
    await sh(WRAP, WRAPPER('/usr/bin/lvm "$t"'), WRAPPER('/usr/bin/qemu-img.real'));
  });

  it('qm snapshot s1 with a description: the VM config, the LVs, the chain and the data', async () => {
    const { before, after } = await snapshot('s1', '--description', DESCRIPTION);
    const text = await config();
    const time = snaptimeOf(text, 's1');
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
    expect(text).toBe(main('s1') + section('s1', time, undefined, '#before upgrade%3A caf%C3%A9 100%25\n'));
    expect(decodeURIComponent('before upgrade%3A caf%C3%A9 100%25')).toBe(DESCRIPTION);
    await expectNoLockLeft();
    expect(Object.keys(await lvs()).sort()).toEqual([lv('s1'), lv('current')]);
    const tags = (await must(lab(), ['lvs', '--noheadings', '-o', 'lv_tags', `${VG}/${lv('current')}`]))
      .stdout;
    expect(tags.trim()).toBe(`pve-vm-101,pve-${lv('current')}`);
    expect(await chainOf(['s1'])).toEqual({ current: `${lv('s1')} (qcow2)`, s1: undefined });
    await expectViews(['s1']);
    expect((await remoteView(lab(), dev('s1'), 0x11)).markers).toBe(MiB);
  });

  it('qm snapshot s2: a new section whose parent is s1, the old one as it was', async () => {
    const t1 = snaptimeOf(await config(), 's1');
    await write(0x22, 1);
    const { before, after } = await snapshot('s2');
    const text = await config();
    const t2 = snaptimeOf(text, 's2');
    expect(t2).toBeGreaterThanOrEqual(before);
    expect(t2).toBeLessThanOrEqual(after);
    expect(text).toBe(
      main('s2') +
        section('s1', t1, undefined, '#before upgrade%3A caf%C3%A9 100%25\n') +
        section('s2', t2, 's1'),
    );
    await expectNoLockLeft();
    expect(await chainOf(['s2', 's1'])).toEqual({
      current: `${lv('s2')} (qcow2)`,
      s2: `${lv('s1')} (qcow2)`,
      s1: undefined,
    });
    await expectViews(['s1', 's2']);
  });

  it('refuses what it does not implement, or what Proxmox refuses, with exit 2 and no change', async () => {
    const state = async () => ({ config: await config(), lvs: await lvs() });
    const was = await state();
    const refused = async (args: string[], message: string) => {
      const r = await qm(...args);
      expect(r.exitCode, `qm ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(PREFIX + message);
      expect(await state(), `qm ${args.join(' ')} changed nothing`).toEqual(was);
    };
    const notImplemented = (what: string) =>
      `'${what}' is not implemented by the stand-in, which knows only qm status <vmid>, qm snapshot <vmid> <snapname> [--description <text>], qm delsnapshot <vmid> <snapname> and qm rollback <vmid> <snapname>`;
    await refused(['clone', '101', '102'], notImplemented('qm clone 101 102'));
    await refused(['snapshot', '101', 's3', '--foo'], notImplemented('qm snapshot 101 s3 --foo'));
    await refused(['delsnapshot', '101', 's1', '--force'], notImplemented('qm delsnapshot 101 s1 --force'));
    await refused(['rollback', '101', 's2', '--start', '1'], notImplemented('qm rollback 101 s2 --start 1'));
    await refused(['snapshot', '101', 's3', '--vmstate', '1'], 'vmstate (RAM snapshots) is not implemented');
    await refused(['snapshot', '101', '3s'], "snapname: invalid format - invalid configuration ID '3s'");
    await refused(['snapshot', '101', 's'], "snapname: invalid format - invalid configuration ID 's'");
    await refused(['snapshot', '101', 'current'], "unable to use snapshot name 'current' (reserved name)");
    await refused(['snapshot', '101', 's2'], "snapshot name 's2' already used");
    await refused(['delsnapshot', '101', 's9'], "snapshot 's9' does not exist");
    await refused(['rollback', '101', 's9'], "snapshot 's9' does not exist");
    await refused(
      ['rollback', '101', 's1'],
      `can't rollback, 's1' is not most recent snapshot on '${lv('current')}'`,
    );
    await refused(
      ['snapshot', '102', 's1'],
      "scsi0 (local:102/vm-102-disk-0.qcow2): storage 'local' is not an 'lvm' storage with 'snapshot-as-volume-chain 1': not implemented by the stand-in",
    );
    const node = conf.split('/')[4] as string;
    await refused(
      ['snapshot', '103', 's1'],
      `Configuration file 'nodes/${node}/qemu-server/103.conf' does not exist`,
    );

    // VM 101 runs: a process names its pid file after --pidfile, as QEMU does (here a storage
    // daemon holding the top read-only, in place of the guest).
    await must(lab(), [
      'qemu-storage-daemon',
      '--daemonize',
      '--pidfile',
      PIDFILE,
      '--blockdev',
      `driver=host_device,node-name=file,filename=${dev('current')},read-only=on`,
      '--blockdev',
      'driver=qcow2,node-name=top,file=file,read-only=on',
    ]);
    try {
      expect((await qm('status', '101')).stdout).toBe('status: running\n');
      const live = 'VM 101 is running: the live path is not implemented by the stand-in';
      await refused(['snapshot', '101', 's3'], live);
      await refused(['delsnapshot', '101', 's1'], live);
      await refused(['rollback', '101', 's2'], live);
    } finally {
      await sh(`p=$(cat ${PIDFILE}); kill "$p"; while [ -e "/proc/$p" ]; do sleep 0.1; done`);
    }
    expect((await qm('status', '101')).stdout).toBe('status: stopped\n');
  });

  it('qm delsnapshot s1, the oldest: s2 is committed into it, which then takes s2’s name', async () => {
    const t2 = snaptimeOf(await config(), 's2');
    const before = await lvs();
    await write(0x33, 2);
    views.set('current', await view('current'));
    const r = await qmLogged('delsnapshot', '101', 's1');
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${lv('current')}: deleting snapshot 's1' by commiting snapshot 's2'`);
    // §5.1: activation and the chain read, and the commit, outside the lock; free and rename in it.
    expect(r.calls).toEqual([
      ...activate('free'),
      `free qemu-img info --output=json ${dev('current')} --backing-chain`,
      `free qemu-img commit ${dev('s2')}`,
      `held lvremove -f ${VG}/${lv('s2')}`,
      LVS,
      `held lvrename ${VG} ${lv('s1')} ${lv('s2')}`,
    ]);
    // The section is gone; s2 had s1 as its parent and now has none.
    expect(await config()).toBe(main('s2') + section('s2', t2));
    await expectNoLockLeft();
    expect(await lvs()).toEqual({ [lv('s2')]: before[lv('s1')], [lv('current')]: before[lv('current')] });
    expect(await chainOf(['s2'])).toEqual({ current: `${lv('s2')} (qcow2)`, s2: undefined });
    await expectViews(['s2']);
  });

  it('qm delsnapshot s3, a middle one: s4 is rebased onto s2, and s3’s LV goes', async () => {
    await snapshot('s3');
    await write(0x44, 3);
    await snapshot('s4');
    await write(0x55, 4);
    views.set('current', await view('current'));
    const text = await config();
    const [t2, t4] = [snaptimeOf(text, 's2'), snaptimeOf(text, 's4')];
    expect(text).toBe(
      main('s4') + section('s2', t2) + section('s3', snaptimeOf(text, 's3'), 's2') + section('s4', t4, 's3'),
    );
    const before = await lvs();

    const r = await qmLogged('delsnapshot', '101', 's3');
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${lv('current')}: deleting snapshot 's3' by rebasing 's4' on top of 's2'`);
    expect(r.calls).toEqual([
      ...activate('free'),
      `free qemu-img info --output=json ${dev('current')} --backing-chain`,
      `free qemu-img rebase -b ${lv('s2')} -F qcow2 -f qcow2 ${dev('s4')}`,
      `held lvremove -f ${VG}/${lv('s3')}`,
    ]);
    // s4's parent was s3: now s3's parent, s2.
    expect(await config()).toBe(main('s4') + section('s2', t2) + section('s4', t4, 's2'));
    await expectNoLockLeft();
    const { [lv('s3')]: _gone, ...kept } = before;
    expect(await lvs()).toEqual(kept);
    expect(await chainOf(['s4', 's2'])).toEqual({
      current: `${lv('s4')} (qcow2)`,
      s4: `${lv('s2')} (qcow2)`,
      s2: undefined,
    });
    await expectViews(['s2', 's4']);
    expect((await remoteView(lab(), dev('s4'), 0x44)).markers).toBe(MiB);
  });

  it('qm rollback s4, the newest: a new top on s4, and the main section is s4’s again', async () => {
    const text = await config();
    const [t2, t4] = [snaptimeOf(text, 's2'), snaptimeOf(text, 's4')];
    // The VM changed since s4: more memory, and a key s4 does not have.
    await sh(
      `sed -i '0,/^memory: 512$/s//memory: 1024/; 0,/^name: vm101$/s//name: vm101\\ntags: changed/' "$1"`,
      conf,
    );
    expect(
      (await config()).startsWith(
        `${MAIN_DESCRIPTION}boot: order=scsi0\nide2: none,media=cdrom\nmemory: 1024\n`,
      ),
    ).toBe(true);
    await write(0x66, 5);
    const before = await lvs();

    const r = await qmLogged('rollback', '101', 's4');
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    // §6: rollback_is_possible (activate, the chain) outside the lock; then free the top and
    // allocate it again on s4 (§4.1 step 3) in it.
    expect(r.calls).toEqual([
      ...activate('free'),
      `free qemu-img info --output=json ${dev('current')} --backing-chain`,
      `held lvremove -f ${VG}/${lv('current')}`,
      `held qemu-img info --output=json ${dev('s4')} -f qcow2`,
      VGS,
      'held qemu-img measure --output=json --size 16384K -O qcow2 -o extended_l2=on,cluster_size=128k',
      `held lvcreate -aly -Wy --yes --size ${topKiB}k --name ${lv('current')} --setautoactivation n --addtag pve-vm-101 --addtag @pve-${lv('current')} ${VG}`,
      ...activate('held'),
      `held qemu-img create -F qcow2 -b ${lv('s4')} -f qcow2 ${dev('current')} -o extended_l2=on,cluster_size=128k,preallocation=metadata`,
    ]);
    // The main keys are s4's (memory 512, no tags), with parent s4; the main description stays.
    expect(await config()).toBe(main('s4') + section('s2', t2) + section('s4', t4, 's2'));
    await expectNoLockLeft();
    const after = await lvs();
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect(after[lv('current')], 'a new top LV').not.toBe(before[lv('current')]);
    expect(after[lv('s4')]).toBe(before[lv('s4')]);
    expect(await chainOf(['s4', 's2'])).toEqual({
      current: `${lv('s4')} (qcow2)`,
      s4: `${lv('s2')} (qcow2)`,
      s2: undefined,
    });
    views.set('current', views.get('s4') as string);
    await expectViews(['s2', 's4']);
    expect((await remoteView(lab(), dev('current'), 0x66)).markers).toBe(0);
  });

  it('waits for the storage lock someone holds, and gives up as cfs_lock does, leaving the VM as it was', async () => {
    // Held for 2 s: qm waits, then snapshots.
    await sh(`mkdir ${LOCK}; (sleep 2; rmdir ${LOCK}) </dev/null >/dev/null 2>&1 &`);
    const waited = await qm('snapshot', '101', 's5');
    expect(waited.exitCode, waited.stdout + waited.stderr).toBe(0);
    expect(waited.stderr).toContain("trying to acquire cfs lock 'storage-san1' ...");
    expect(await config()).toMatch(/^parent: s5$/m);
    await expectNoLockLeft();

    // Held past the timeout: the snapshot fails; snapshot_create's cleanup leaves no section and no lock.
    const was = { config: await config(), lvs: await lvs() };
    await sh(`mkdir ${LOCK}`);
    try {
      const r = await lab().run([
        'env',
        `QM_STANDIN_ROOT=${ROOT}`,
        'QM_STANDIN_LOCK_TIMEOUT=1',
        'qm',
        'snapshot',
        '101',
        's6',
      ]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain('snapshot create failed: starting cleanup');
      expect(r.stderr).toContain(`${PREFIX}cfs-lock 'storage-san1' error: got lock request timeout`);
      expect({ config: await config(), lvs: await lvs() }).toEqual(was);
    } finally {
      await sh(`rmdir ${LOCK}`);
    }
  });

  // Both cases below: s7 (on s5) with a RAM state; the config without and with it.
  const withoutState = async () => {
    const text = await config();
    const [t2, t4, t5] = [snaptimeOf(text, 's2'), snaptimeOf(text, 's4'), snaptimeOf(text, 's5')];
    return section('s2', t2) + section('s4', t4, 's2') + section('s5', t5, 's4');
  };
  const s7WithState = (t7: number, vmstate: string) =>
    `${section('s7', t7, 's5').replace('scsi0:', `${RUNNING}scsi0:`)}vmstate: ${vmstate}\n`;

  it('refuses a vmstate it cannot free, and a rollback to a snapshot with one, with exit 2 and no change', async () => {
    await write(0x77, 6);
    views.set('s5', await view('s5'));
    await snapshot('s7');
    await write(0x88, 7);
    views.set('current', await view('current'));
    const text = await config();
    const t7 = snaptimeOf(text, 's7');
    const older = await withoutState();
    expect(text).toBe(main('s7') + older + section('s7', t7, 's5'));
    // The state LV, as vdisk_alloc makes it, with the RAM state's first MiB in it.
    await must(lab(), STATE_LVCREATE);
    await must(lab(), ['qemu-io', '-f', 'raw', '-c', `write -P 0x99 0 ${MiB}`, `/dev/${VG}/${STATE}`]);
    const stateBytes = async () =>
      Number((await sh(`head -c ${MiB} /dev/${VG}/${STATE} | tr -dc '\\231' | wc -c`)).stdout.trim());
    expect(await stateBytes()).toBe(MiB);

    const refused = async (vmstate: string, args: string[], message: string) => {
      await sh('printf "%s" "$2" > "$1"', conf, main('s7') + older + s7WithState(t7, vmstate));
      const was = { config: await config(), lvs: await lvs() };
      const r = await qm(...args);
      expect(r.exitCode, `qm ${args.join(' ')} with vmstate ${vmstate}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(PREFIX + message);
      expect({ config: await config(), lvs: await lvs() }, `qm ${args.join(' ')} changed nothing`).toEqual(
        was,
      );
    };
    const del = ['delsnapshot', '101', 's7'];
    await refused(`nas:${STATE}`, del, `vmstate (nas:${STATE}): storage 'nas' does not exist`);
    await refused(
      `local:101/${STATE}.raw`,
      del,
      `vmstate (local:101/${STATE}.raw): storage 'local' is not an 'lvm' storage: not implemented by the stand-in`,
    );
    // A vm-101-* name Proxmox would free too, with its whole chain: never by the stand-in.
    await refused(
      `san1:${DISK}.qcow2`,
      del,
      `vmstate (san1:${DISK}.qcow2) is not a raw LV vm-101-state-<name>: not implemented by the stand-in`,
    );
    // s7 is the newest snapshot: only its RAM state stops the rollback (it needs a running VM).
    await refused(`san1:${STATE}`, ['rollback', '101', 's7'], "snapshot 's7' has a vmstate: not implemented");
    expect(await stateBytes()).toBe(MiB);
    await expectViews(['s7', 's5']);
  });

  it('qm delsnapshot s7 with a RAM state: its LV goes first under the lock, its vmstate line before the disk’s layer', async () => {
    const text = await config();
    const t7 = snaptimeOf(text, 's7');
    const older = await withoutState();
    expect(text, 'the config the last case left').toBe(main('s7') + older + s7WithState(t7, `san1:${STATE}`));
    const before = await lvs();
    expect(before).toHaveProperty([STATE]);

    await sh(`: > ${CALLS}; : > ${WATCHED}`);
    const r = await lab().run([
      'env',
      `QM_STANDIN_ROOT=${ROOT}`,
      `QM_WATCH=${conf}`,
      'qm',
      'delsnapshot',
      '101',
      's7',
    ]);
    const log = async (file: string) => (await sh(`cat ${file}`)).stdout.trim().split('\n').filter(Boolean);
    const [calls, watched] = [await log(CALLS), (await log(WATCHED)).map((l) => l.trim())];
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `${lv('current')}: deleting snapshot 's7' by rebasing 'current' on top of 's5'`,
    );
    // vdisk_free of the raw state LV: activate_storage's vgs outside the lock, lvremove in it
    // (no activation, no saferemove); then the disk's snapshot as for any middle one (§5.1).
    expect(calls).toEqual([
      VGS.replace(/^held/, 'free'),
      `held lvremove -f ${VG}/${STATE}`,
      ...activate('free'),
      `free qemu-img info --output=json ${dev('current')} --backing-chain`,
      `free qemu-img rebase -b ${lv('s5')} -F qcow2 -f qcow2 ${dev('current')}`,
      `held lvremove -f ${VG}/${lv('s7')}`,
    ]);
    // The config meanwhile: locked and `snapstate: delete` throughout; the vmstate line is still
    // there while its LV is freed, and gone before the disk's layer is touched.
    const locked = 'lock: snapshot-delete snapstate: delete';
    const withVmstate = `${locked} vmstate: san1:${STATE}`;
    expect(watched).toEqual([
      `vgs: ${withVmstate}`,
      `lvremove: ${withVmstate}`,
      `lvchange: ${locked}`,
      `lvchange: ${locked}`,
      `qemu-img: ${locked}`,
      `qemu-img: ${locked}`,
      `lvremove: ${locked}`,
    ]);
    // No trace of s7: s5 is the main section's parent again.
    expect(await config()).toBe(main('s5') + older);
    await expectNoLockLeft();
    const { [STATE]: _state, [lv('s7')]: _s7, ...kept } = before;
    expect(await lvs()).toEqual(kept);
    expect(await chainOf(['s5', 's4', 's2'])).toEqual({
      current: `${lv('s5')} (qcow2)`,
      s5: `${lv('s4')} (qcow2)`,
      s4: `${lv('s2')} (qcow2)`,
      s2: undefined,
    });
    // What s7 held (0x77) was copied into the top by the rebase.
    await expectViews(['s2', 's4', 's5']);
    expect((await remoteView(lab(), dev('current'), 0x77)).markers).toBe(MiB);
  });
});
