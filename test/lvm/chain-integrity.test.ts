/**
 * Chains on real thick LVM in the lab VM, over ssh: every layer reads its data back through
 * snapshots, merges and rollbacks; LVs are named and tagged as Proxmox VE 9 names them; stale
 * extents of a reused LV are never visible to a guest; LVs lvchain does not own are untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { integrityScenario, type ChainDriver } from '../scenarios/integrity.js';

const MARKER = 0xe7;
const DISK = 'vm-401-disk-0';
const VG = 'vg_san1';

describe('chains on thick LVM over ssh', () => {
  // The PV is filled with a marker before pvcreate: any stale extent a guest could read shows it.
  const lab = useLab({ disks: [{ sizeMiB: 768, fillByte: MARKER }] });
  let lvm: LvmLab;
  let driver: ChainDriver;
  const markers = new Map<string, number>();
  let foreignBefore: { digest: string; meta: unknown };

  const lvOf = (layer: string) => (layer === 'top' ? `${DISK}.qcow2` : `snap_${DISK}_${layer}.qcow2`);

  beforeAll(async () => {
    const vm = lab();
    lvm = await LvmLab.create(vm, VG, vm.devices[0]);
    // A foreign LV with data, which every operation must leave byte- and metadata-identical.
    await must(vm, [
      'lvcreate',
      '--yes',
      '-L',
      '8m',
      '-n',
      'foreign-data',
      '--addtag',
      'owner=someone-else',
      VG,
    ]);
    await must(vm, ['sh', '-c', `head -c 8388608 /dev/urandom > /dev/${VG}/foreign-data`]);
    foreignBefore = await foreignState();
    driver = {
      disk: DISK,
      writeConfig: (sizeMiB, snapshots) =>
        lvm.writeConfig({
          disks: {
            [DISK]: {
              storage: VG,
              size: `${sizeMiB}MiB`,
              ...(snapshots.length > 0
                ? { snapshots: Object.fromEntries(snapshots.map((s) => [s, {}])) }
                : {}),
            },
          },
        }),
      run: (args) => lvm.run(args),
      write: async (o, l, p) => {
        await must(vm, [
          'qemu-io',
          '-f',
          'qcow2',
          '-c',
          `write -P 0x${p.toString(16)} ${o} ${l}`,
          lvm.dev(lvOf('top')),
        ]);
      },
      zero: async (o, l) => {
        await must(vm, ['qemu-io', '-f', 'qcow2', '-c', `write -z ${o} ${l}`, lvm.dev(lvOf('top'))]);
      },
      viewDigest: async (layer) => {
        const v = await remoteView(vm, lvm.dev(lvOf(layer)), MARKER);
        markers.set(layer, v.markers);
        return v.digest;
      },
      layerExists: async (layer) => (await lvm.lvs()).has(lvOf(layer)),
      afterStep: async (step, layers) => {
        for (const layer of layers)
          expect(markers.get(layer), `${step}: stale marker bytes visible in ${layer}`).toBe(0);
        if (step === 'snapshots') await assertProxmoxLayout(['s1', 's2', 's3', 's4', 's5']);
        expect(await foreignState(), `${step}: the foreign LV`).toEqual(foreignBefore);
      },
    };
  });
  afterAll(async () => lvm?.dispose());

  async function foreignState(): Promise<{ digest: string; meta: unknown }> {
    const r = await must(lab(), ['sha256sum', `/dev/${VG}/foreign-data`]);
    return { digest: r.stdout.split(' ')[0] as string, meta: (await lvm.lvs()).get('foreign-data') };
  }

  /** LV names, Proxmox's and lvchain's tags, and relative backing names, as lvs and qemu-img show them. */
  async function assertProxmoxLayout(snaps: string[]): Promise<void> {
    const lvs = await lvm.lvs();
    const chain = [...snaps.map((s) => `snap_${DISK}_${s}.qcow2`), `${DISK}.qcow2`];
    for (const [i, name] of chain.entries()) {
      const lv = lvs.get(name);
      expect(lv, name).toBeDefined();
      expect(lv?.tags).toEqual(
        expect.arrayContaining([
          'pve-vm-401',
          `pve-${DISK}.qcow2`,
          `lvchain.disk=${DISK}`,
          'lvchain.size=16777216',
        ]),
      );
      if (i < snaps.length)
        expect(lv?.tags).toEqual(expect.arrayContaining([`lvchain.snap=${snaps[i]}`, 'lvchain.kind=pinned']));
      const info = JSON.parse(
        (await must(lab(), ['qemu-img', 'info', '-U', '--output=json', '-f', 'qcow2', lvm.dev(name)])).stdout,
      ) as Record<string, unknown>;
      expect(info['format-specific']).toMatchObject({ data: { 'extended-l2': true } });
      expect(info['cluster-size']).toBe(131072);
      if (i === 0) expect(info['backing-filename']).toBeUndefined();
      else {
        expect(info['backing-filename'], `${name} has a relative backing name`).toBe(chain[i - 1]);
        expect(info['backing-filename-format']).toBe('qcow2');
      }
    }
  }

  integrityScenario(() => driver);

  it('show draws the chain on LVM, as text and as JSON, with the LVs the VG holds', async () => {
    const lvs = [...(await lvm.lvs()).keys()].filter((n) => n.includes(DISK)).sort();
    expect(lvs.length).toBeGreaterThan(1);
    const text = await lvm.run(['show', DISK]);
    expect(text.exitCode, text.stderr).toBe(0);
    for (const lv of lvs) expect(text.stdout).toContain(lv);
    const json = await lvm.run(['show', DISK, '--json']);
    expect(json.exitCode, json.stderr).toBe(0);
    const shown = JSON.parse(json.stdout) as { verified: boolean; layers: { name: string }[] };
    expect(shown.layers.map((l) => l.name).sort()).toEqual(lvs);
    expect(shown.verified).toBe(true);
  });

  it("shows that Proxmox's base-image options expose the marker on the same device (the test can see a leak)", async () => {
    const vm = lab();
    await must(vm, [
      'lvcreate',
      '--yes',
      '-Wy',
      '--setautoactivation',
      'n',
      '-L',
      '64m',
      '-n',
      'pve-style-base',
      VG,
    ]);
    // Exactly what Proxmox runs for a new qcow2 disk on LVM.
    await must(vm, [
      'qemu-img',
      'create',
      '-o',
      'preallocation=metadata',
      '-f',
      'qcow2',
      lvm.dev('pve-style-base'),
      '32M',
    ]);
    const leak = await remoteView(vm, lvm.dev('pve-style-base'), MARKER);
    expect(leak.markers).toBeGreaterThan(1024 * 1024);
    await must(vm, ['lvremove', '--yes', `${VG}/pve-style-base`]);
  });
});
