/**
 * Issue 11 acceptance 4 and 5: the Proxmox engine against the `qm` STAND-IN (test/lab/qm, NOT
 * Proxmox's qm: it does Proxmox's storage side on the real LVs and writes the VM config as
 * Proxmox does). A lab VM named pve1 holds the node tree in /etc/pve (no pmxcfs), VG vg_san1 as
 * storage san1, and VM 401 (stopped) with disk vm-401-disk-0, which Proxmox allocated and
 * lvchain imported. lvchain's scheduled snapshots go through `qm snapshot`, retention through
 * `qm delsnapshot` (one of cv4pve-autosnap's, adopted by `adopt: "^autohourly"`, committed by
 * Proxmox), a rollback through `qm rollback`; a run that stopped right after qm is finished by
 * the next one; a VM config Proxmox locked keeps the disk alone; a snapshot's saved RAM state
 * is shown, counted as freed by its delete and removed by qm; lvchain killed while qm runs waits
 * for Proxmox, then finishes. After each: the VM config's sections, the LVs and their tags, and
 * what every snapshot and the top read. The interruption cases write their section of
 * docs/reliability.md.
 * The lab VM's clock is set to each step's instant, so Proxmox's `snaptime` and lvchain's
 * `--now` agree as on a real node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView, remoteWriteMiB } from '../helpers/lvmlab.js';
import { installQmStandIn } from '../lab/two-nodes.js';
import { ProxmoxSequences } from '../helpers/proxmox-sequences.js';
import { CLI } from '../helpers/cli.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';
import { execa } from 'execa';
import type { Plan } from '../../src/model/plan.js';

const VG = 'vg_san1';
const VMID = 401;
const DISK = `vm-${VMID}-disk-0`;
const CONF = `/etc/pve/nodes/pve1/qemu-server/${VMID}.conf`;
const MiB = 1024 * 1024;
const T0 = Date.parse('2026-03-01T08:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString().replace('.000Z', 'Z');
const slot = (hour: number) => `auto-20260301T${String(8 + hour).padStart(2, '0')}01Z`;

const STORAGE_CFG = `dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nlvm: san1\n\tvgname ${VG}\n\tcontent images\n\tshared 1\n\tsnapshot-as-volume-chain 1\n`;
const VMLIST = `{\n"version": 7,\n"ids": {\n"${VMID}": { "node": "pve1", "type": "qemu", "version": 3 }}\n}\n`;
const MAIN = `boot: order=scsi0\ncores: 1\nmemory: 512\nname: engine\nostype: l26\nscsi0: san1:${DISK}.qcow2,size=64M\nscsihw: virtio-scsi-single\n`;

describe('the Proxmox engine, against the qm stand-in on real LVM', () => {
  const lab = useLab({ disks: [{ sizeMiB: 768 }] });
  let lvm: LvmLab;
  /** What each snapshot showed when it was taken, and the top now. */
  const views = new Map<string, string>();

  const lvOf = (snap: string) => (snap === 'current' ? `${DISK}.qcow2` : `snap_${DISK}_${snap}.qcow2`);
  /** As Proxmox does before it uses the chain; lvchain deactivates it after each run on a node. */
  const activate = () =>
    must(lab(), [
      'lvchange',
      '-ay',
      '--select',
      `vg_name = "${VG}" && lv_name =~ '^(${DISK}|snap_${DISK}_.+)\\.qcow2$'`,
    ]);
  const viewOf = async (snap: string) => {
    await activate();
    return (await remoteView(lab(), lvm.dev(lvOf(snap)), 0)).digest;
  };
  const write = async (pattern: number, offsetMiB: number) => {
    await activate();
    return remoteWriteMiB(lab(), lvm.dev(lvOf('current')), pattern, offsetMiB);
  };
  const clock = (minutes: number) => must(lab(), ['date', '-u', '-s', `@${(T0 + minutes * 60_000) / 1000}`]);
  const conf = async () => (await must(lab(), ['cat', CONF])).stdout;
  const tags = async (snap: string) =>
    Object.fromEntries(
      ((await lvm.lvs()).get(lvOf(snap))?.tags ?? [])
        .filter((t) => t.startsWith('lvchain.'))
        .map((t) => t.slice('lvchain.'.length).split('=') as [string, string]),
    );
  /** The `[name]` sections of the VM config, in order. */
  const sections = async () => [...(await conf()).matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]);
  const sectionOf = async (name: string) => {
    const text = await conf();
    const start = text.indexOf(`[${name}]\n`);
    expect(start, `[${name}] in the VM config`).toBeGreaterThanOrEqual(0);
    const end = text.indexOf('\n[', start + 1);
    return text.slice(start, end < 0 ? undefined : end + 1);
  };

  const snaptimeOf = async (name: string) => Number(/^snaptime: (\d+)$/m.exec(await sectionOf(name))?.[1]);
  const isoOf = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

  async function plan(
    minutes: number,
    name: string,
  ): Promise<{ plan: Plan; text: string; exitCode: number }> {
    const file = join(lvm.dir, `${name}.json`);
    const r = await lvm.run(['plan', '--detailed-exitcode', '--now', at(minutes), '--out', file]);
    expect([0, 2], r.stdout + r.stderr).toContain(r.exitCode);
    return { plan: JSON.parse(await readFile(file, 'utf8')) as Plan, text: r.stdout, exitCode: r.exitCode };
  }

  async function apply(minutes: number): Promise<string> {
    await clock(minutes);
    const r = await lvm.run(['apply', '--auto-approve', '--now', at(minutes)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const again = await lvm.run(['plan', '--detailed-exitcode', '--now', at(minutes)]);
    expect(again.exitCode, `a plan after apply is clean:\n${again.stdout}${again.stderr}`).toBe(0);
    return r.stdout;
  }

  async function expectViews(snaps: readonly string[]): Promise<void> {
    expect(await viewOf('current'), 'what the top reads').toBe(views.get('current'));
    for (const s of snaps) expect(await viewOf(s), `what ${s} reads`).toBe(views.get(s));
  }

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, VG, vm.devices[0]);
    await must(vm, ['hostname', 'pve1']);
    await installQmStandIn(vm);
    const files: Record<string, string> = {
      'storage.cfg': STORAGE_CFG,
      '.vmlist': VMLIST,
      [CONF.slice('/etc/pve/'.length)]: MAIN,
    };
    await must(vm, ['mkdir', '-p', '/etc/pve/priv/lock', '/var/run/qemu-server']);
    for (const [name, text] of Object.entries(files))
      await must(vm, [
        'sh',
        '-c',
        'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"',
        'w',
        `/etc/pve/${name}`,
        text,
      ]);
    // The disk as Proxmox allocates it, then imported by lvchain.
    await new ProxmoxSequences(vm, VG, DISK).allocate(64 * 1024);
    await lvm.writeConfig({
      hosts: { lab: { ...(lvm.host().lab as object), proxmox: {} } },
      policies: {
        hourly: { timezone: 'UTC', schedule: '0 * * * *', retention: { last: 2 }, adopt: '^autohourly' },
      },
      guests: {
        g401: { storage: VG, policy: 'hourly', vm: { proxmox: VMID }, disks: { [DISK]: { size: '64MiB' } } },
      },
    });
    await clock(0);
    const imported = await lvm.run(['import', VG, DISK, '--auto-approve']);
    expect(imported.exitCode, imported.stdout + imported.stderr).toBe(0);
    await write(0x11, 0);
  }, 600_000);
  /** One line per interruption case that passed, for docs/reliability.md. */
  const facts = new Map<string, string>();
  afterAll(async () => {
    await lvm?.dispose();
    if (facts.size < 3) return;
    writeSection(
      'proxmox:lvm',
      [
        '## Interrupted runs through the Proxmox engine: thick LVM over ssh (lab VM, qm stand-in)',
        '',
        generatedBy('test/lvm/proxmox-engine.test.ts'),
        '',
        "Snapshots and deletes of a Proxmox VM go through `qm` (here the stand-in test/lab/qm, not Proxmox's qm); lvchain records no intent for them, the VM config is the record.",
        '',
        ...[...facts.values()].map((f) => `- ${f}`),
      ].join('\n'),
    );
  });

  it("takes the policy's snapshot with qm snapshot: the VM config lists it, and lvchain's tags are on Proxmox's layers", async () => {
    const { plan: p, text } = await plan(1, 'snapshot');
    const c = p.resource_changes.find((x) => x.address === `snapshot.${DISK}@${slot(0)}`);
    expect(
      c?.x_steps.map((s) => s.step.kind),
      text,
    ).toEqual(['qm', 'set_meta', 'set_meta']);
    expect(c?.x_steps[0]?.commands).toEqual([
      {
        kind: 'argv',
        argv: [
          'qm',
          'snapshot',
          String(VMID),
          slot(0),
          '--description',
          `lvchain: policy hourly, planned for ${at(1)}`,
        ],
      },
    ]);
    expect(text).toContain(`Proxmox VE on pve1: take snapshot ${slot(0)} of VM ${VMID}`);
    views.set(slot(0), await viewOf('current'));
    await apply(1);
    expect(await sections()).toEqual([slot(0)]);
    const section = await sectionOf(slot(0));
    // Proxmox's own clock: the lab VM's, set to 08:01 when apply started.
    expect(await snaptimeOf(slot(0))).toBeGreaterThanOrEqual((T0 + 60_000) / 1000);
    expect(await snaptimeOf(slot(0))).toBeLessThan((T0 + 120_000) / 1000);
    expect(section).toContain(`#lvchain%3A policy hourly, planned for ${at(1).replaceAll(':', '%3A')}\n`);
    expect(await conf()).toMatch(new RegExp(`^parent: ${slot(0)}$`, 'm'));
    expect(await conf()).not.toMatch(/^lock:/m);
    expect(await tags(slot(0))).toMatchObject({
      disk: DISK,
      snap: slot(0),
      kind: 'auto',
      policy: 'hourly',
      created: at(1),
    });
    expect(await tags('current')).toMatchObject({ disk: DISK });
    expect((await tags('current')).snap).toBeUndefined();
    await write(0x22, 1);
    views.set('current', await viewOf('current'));
    await expectViews([slot(0)]);
  });

  it("adopts a snapshot cv4pve-autosnap took through Proxmox, dated by the config's snaptime", async () => {
    await clock(20);
    const cv4pve = 'autohourly260301082000';
    await must(lab(), ['qm', 'snapshot', String(VMID), cv4pve, '--description', 'cv4pve-autosnap']);
    views.set(cv4pve, views.get('current') as string);
    const { plan: p, text } = await plan(21, 'adopt');
    expect(p.resource_changes.map((c) => c.operation.op)).toEqual(['rederive']);
    expect(text).toContain(`Proxmox took snapshot ${cv4pve} (the top renamed)`);
    expect(text).not.toContain('estimated');
    await apply(21);
    expect(await tags(cv4pve)).toMatchObject({
      snap: cv4pve,
      kind: 'external',
      created: isoOf(await snaptimeOf(cv4pve)),
    });
    await write(0x33, 2);
    views.set('current', await viewOf('current'));
    await expectViews([slot(0), cv4pve]);
  });

  it('prunes by retention through qm delsnapshot, in Proxmox’s direction, with lvchain’s cost beside it', async () => {
    // At 09:01 the 09:00 snapshot is due; `last: 2` then keeps it and the adopted cv4pve one.
    const { plan: p, text } = await plan(61, 'retention');
    const del = p.resource_changes.find((c) => c.operation.op === 'delete');
    expect(del?.address).toBe(`snapshot.${DISK}@${slot(0)}`);
    // The oldest snapshot: Proxmox commits its child into it, and renames it to the child's name.
    expect(del?.operation).toMatchObject({ merge: 'merge_commit', chosen_because: 'proxmox' });
    expect(del?.x_steps.map((s) => s.step.kind)).toEqual(['qm', 'set_meta']);
    expect(text).toContain(`qm delsnapshot ${VMID} ${slot(0)}`);
    expect(text).toContain("Proxmox's choice");
    views.set(slot(1), views.get('current') as string);
    await apply(61);
    // Proxmox writes snapshot sections in name order.
    expect(await sections()).toEqual([slot(1), 'autohourly260301082000']);
    expect(await sectionOf('autohourly260301082000')).not.toContain('parent:');
    expect(await sectionOf(slot(1))).toContain('parent: autohourly260301082000\n');
    const lvs = await lvm.lvs();
    expect([...lvs.keys()].sort()).toEqual(
      [lvOf('autohourly260301082000'), lvOf('current'), lvOf(slot(1))].sort(),
    );
    // The layer that took the cv4pve snapshot's name carries its own record again, not the deleted one's.
    expect(await tags('autohourly260301082000')).toMatchObject({
      snap: 'autohourly260301082000',
      kind: 'external',
      created: isoOf(await snaptimeOf('autohourly260301082000')),
    });
    await expectViews(['autohourly260301082000', slot(1)]);
  });

  it('finishes a run that stopped right after qm snapshot: the next plan re-derives the metadata from the config', async () => {
    await write(0x44, 3);
    views.set('current', await viewOf('current'));
    views.set(slot(2), views.get('current') as string);
    // What lvchain's apply at 10:01 ran before it was killed: only the qm command.
    await clock(121);
    await must(lab(), [
      'qm',
      'snapshot',
      String(VMID),
      slot(2),
      '--description',
      `lvchain: policy hourly, planned for ${at(121)}`,
    ]);
    const { plan: p, text } = await plan(122, 'resume');
    expect(p.resource_changes.map((c) => c.operation.op)).toContain('rederive');
    expect(p.resource_changes.some((c) => c.operation.op === 'snapshot')).toBe(false);
    expect(text).not.toContain('estimated');
    await apply(122);
    expect(await tags(slot(2))).toMatchObject({
      snap: slot(2),
      kind: 'auto',
      policy: 'hourly',
      created: isoOf(await snaptimeOf(slot(2))),
    });
    facts.set(
      'after-qm',
      "A run stopped right after `qm snapshot` (only the qm command ran): the next plan re-derives the snapshot's metadata from the VM config (`snaptime`, the scheduled name), takes no second snapshot, and apply converges.",
    );
  });

  it('rolls back through qm rollback to the newest snapshot', async () => {
    await write(0x55, 4);
    const r = await lvm.run(['rollback', 'g401', slot(2), '--auto-approve']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`qm rollback ${VMID} ${slot(2)}`);
    views.set('current', views.get(slot(2)) as string);
    await expectViews([slot(2)]);
    expect(await conf()).toMatch(new RegExp(`^parent: ${slot(2)}$`, 'm'));
    expect(await tags('current')).toMatchObject({ disk: DISK, size: String(64 * MiB) });
    const again = await lvm.run(['plan', '--detailed-exitcode', '--now', at(122)]);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  it('leaves the disk alone while the VM config is locked, and says how to clear it', async () => {
    await must(lab(), ['sed', '-i', '1i lock: backup', CONF]);
    const before = await lvm.lvs();
    const { plan: p, text } = await plan(181, 'locked');
    expect(p.resource_changes).toEqual([]);
    expect(p.diagnostics.map((d) => d.code)).toContain('proxmox_locked');
    expect(text).toContain(`VM ${VMID} is locked by Proxmox (lock: backup)`);
    const r = await lvm.run(['apply', '--auto-approve', '--now', at(181)]);
    expect(r.exitCode).toBe(0);
    expect(await lvm.lvs()).toEqual(before);
    await must(lab(), ['sed', '-i', '/^lock: backup$/d', CONF]);
    expect((await plan(181, 'unlocked')).plan.resource_changes.map((c) => c.operation.op)).toContain(
      'snapshot',
    );
    facts.set(
      'locked',
      'A VM config with a `lock:` line (Proxmox busy with the VM, or a failed operation of its): plan leaves the disk alone (`proxmox_locked`) and apply changes no LV; once the line is gone, the due snapshot is planned again.',
    );
  });

  it('counts the RAM state saved with a snapshot: show lists it, the plan counts what qm delsnapshot frees, apply removes it', async () => {
    const snap = slot(1);
    const state = `vm-${VMID}-state-${snap}`;
    const without = (await plan(181, 'without-state')).plan;
    // The state volume as Proxmox's vdisk_alloc makes one (reference §1.1), holding some bytes.
    await must(lab(), [
      'lvcreate',
      '-aly',
      '-Wy',
      '--yes',
      '--size',
      `${32 * 1024}k`,
      '--name',
      state,
      '--setautoactivation',
      'n',
      '--addtag',
      `pve-vm-${VMID}`,
      VG,
    ]);
    await must(lab(), [
      'dd',
      'if=/dev/urandom',
      `of=/dev/${VG}/${state}`,
      'bs=1M',
      'count=4',
      'oflag=direct',
    ]);
    // Keys sorted as Proxmox writes them: vmstate after snaptime.
    const text = await conf();
    const section = text.indexOf(`[${snap}]\n`);
    const after = text.indexOf('\n', text.indexOf('\nsnaptime: ', section) + 1) + 1;
    const edited = `${text.slice(0, after)}vmstate: san1:${state}\n${text.slice(after)}`;
    await must(lab(), ['sh', '-c', 'printf "%s" "$2" > "$1"', 'w', CONF, edited]);

    const shown = await lvm.run(['show', DISK]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`\\[${snap}\\]  \\S+  RAM state san1:${state} \\(32 MiB\\)`));
    expect(shown.stdout).toContain(`lvchain: policy hourly, planned for ${at(61)}`);

    const { plan: withState, text: shownPlan } = await plan(181, 'with-state');
    const del = withState.resource_changes.find((c) => c.address === `snapshot.${DISK}@${snap}`);
    expect(del?.x_steps[0]?.step).toMatchObject({ kind: 'qm', qm: { action: 'delsnapshot', snap } });
    expect(shownPlan).toContain(`holds VM ${VMID}'s saved RAM state (san1:${state}, 32 MiB)`);
    const net = (p: Plan) => {
      const c = p.capacity.find((r) => r.storage === VG);
      if (!c) throw new Error(`no capacity report for ${VG}`);
      return c.free_after - c.free_before;
    };
    expect(net(withState) - net(without)).toBe(32 * MiB);

    views.set(slot(3), views.get('current') as string);
    await apply(181);
    expect((await lvm.lvs()).has(state)).toBe(false);
    expect(await sections()).not.toContain(snap);
    expect(await conf()).not.toContain('vmstate:');
    const free = Number(
      (
        await must(lab(), ['vgs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'vg_free', VG])
      ).stdout.trim(),
    );
    expect(free, 'the VG frees what the plan said').toBe(
      withState.capacity.find((r) => r.storage === VG)?.free_after,
    );
    await expectViews([slot(2)]);
  });

  it('survives lvchain killed while qm snapshot runs: the disk waits while Proxmox holds the VM, then the run is finished', async () => {
    const lock = '/etc/pve/priv/lock/storage-san1';
    await clock(241);
    views.set(slot(4), views.get('current') as string);
    // A Proxmox operation elsewhere holds the storage: qm snapshot locks the VM, then waits for it.
    await must(lab(), ['mkdir', lock]);
    const run = execa('node', [CLI, '-c', lvm.configPath, 'apply', '--auto-approve', '--now', at(241)], {
      cwd: lvm.dir,
      env: { NO_COLOR: '1' },
      reject: false,
      detached: true,
      stdin: 'ignore',
    });
    let ended: string | undefined;
    void run.then((r) => (ended = r.stdout + r.stderr));
    try {
      const deadline = Date.now() + 60_000;
      while (!/^lock: snapshot$/m.test(await conf())) {
        expect(ended, 'apply ended before qm locked the VM').toBeUndefined();
        expect(Date.now() < deadline, 'qm snapshot never locked the VM').toBe(true);
      }
      process.kill(-(run.pid as number), 'SIGKILL');
      expect((await run).signal).toBe('SIGKILL');
      const { plan: p, text } = await plan(241, 'inside-qm');
      expect(p.resource_changes, text).toEqual([]);
      expect(text).toContain(`VM ${VMID} is locked by Proxmox (lock: snapshot)`);
    } finally {
      await must(lab(), ['rm', '-rf', lock]);
    }
    // qm, which outlived lvchain on the node, takes the storage lock and finishes.
    const deadline = Date.now() + 60_000;
    while (/^lock:/m.test(await conf()))
      expect(Date.now() < deadline, 'qm snapshot never finished').toBe(true);
    expect(await sections()).toContain(slot(4));
    const { plan: p } = await plan(242, 'after-qm');
    expect(p.resource_changes.map((c) => c.operation.op)).toContain('rederive');
    await apply(242);
    expect(await tags(slot(4))).toMatchObject({ snap: slot(4), kind: 'auto', policy: 'hourly' });
    await expectViews([slot(3), slot(4)]);
    facts.set(
      'killed',
      'lvchain SIGKILLed while `qm snapshot` waited for the storage lock with the VM config locked (`lock: snapshot`): the plan made then leaves the disk alone ("VM 401 is locked by Proxmox (lock: snapshot)"); qm, which outlived lvchain on the node (lvchain runs it with its output to files there, so Proxmox\'s CLI does not end its task when the connection drops), finished once the lock was free; the next plan re-derived the metadata of the snapshot Proxmox took, apply converged, and every snapshot and the top read their data.',
    );
  });
});
