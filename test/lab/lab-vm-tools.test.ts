/**
 * Proves the test host VM (DESIGN §11.3) can do what the LVM backend tests need, over
 * real ssh. Fails (never skips) when a host tool is missing, naming the Debian package.
 */
import { describe, it, expect } from 'vitest';
import { missingHostTools } from './build.js';
import { shQuote, useLab, type LabVm } from './vm.js';

const VG = 'labvg';
const FILL = 0xa5;

async function ok(vm: LabVm, argv: string[], input?: string): Promise<string> {
  const r = await vm.run(argv, input === undefined ? {} : { input });
  if (r.exitCode !== 0) {
    throw new Error(`${argv.join(' ')} -> exit ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r.stdout;
}

interface LvsReport {
  report: { lv: Record<string, string>[] }[];
}
interface VgsReport {
  report: { vg: Record<string, string>[] }[];
}

describe('lab host tools', () => {
  it('has every host tool the lab needs (run scripts/lab-deps.sh as root otherwise)', () => {
    expect(missingHostTools(), 'missing host tools -> Debian packages').toEqual([]);
  });
});

describe('shQuote', () => {
  it('quotes for a POSIX shell', () => {
    expect(shQuote('abc-1.qcow2')).toBe('abc-1.qcow2');
    expect(shQuote('')).toBe("''");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote('a b;$(x)')).toBe("'a b;$(x)'");
  });
});

describe('lab VM', () => {
  const lab = useLab({ disks: [{ sizeMiB: 1024 }, { sizeMiB: 64, fillByte: FILL }] });

  it('runs argv over ssh with quoting intact and stdin passed', async () => {
    const vm = lab();
    expect(vm.devices).toEqual(['/dev/vda', '/dev/vdb']);
    const nasty = 'a b;$(touch /tmp/pwned)`id`\'"\\*';
    const r = await vm.run(['printf', '%s|', nasty, '', 'x']);
    expect(r).toMatchObject({ exitCode: 0, stdout: `${nasty}||x|` });
    expect((await vm.run(['test', '-e', '/tmp/pwned'])).exitCode).toBe(1);
    expect(await ok(vm, ['sh', '-c', 'cat; echo " $0"'], 'in')).toBe('in sh\n');
    expect((await vm.run(['sh', '-c', 'exit 7'])).exitCode).toBe(7);
    // the PATH of a non-interactive command reaches every tool
    const which = await ok(vm, [
      'sh',
      '-c',
      'for t in lvm lvs vgs dmsetup qemu-img qemu-io qemu-storage-daemon socat blkdiscard wipefs flock dd od; do command -v $t || echo "missing $t"; done',
    ]);
    expect(which).not.toContain('missing');
    // util-linux/GNU tools, also when started from exec wrappers (busybox's would not be)
    for (const wrapper of [[], ['env'], ['timeout', '20'], ['nice'], ['flock', '/run/lock/w']]) {
      expect(await ok(vm, [...wrapper, 'blkdiscard', '--version'])).toContain('util-linux');
    }
    expect(await ok(vm, ['dd', '--version'])).toContain('coreutils');
    // stdbuf finds its preload library (lvchain line-buffers blkdiscard's progress with it)
    expect(await ok(vm, ['stdbuf', '-oL', 'blkdiscard', '--version'])).toContain('util-linux');
  });

  it('creates a PV, a VG and a tagged qcow2 LV the way Proxmox does', async () => {
    const vm = lab();
    await ok(vm, ['pvcreate', '--yes', '/dev/vda']);
    await ok(vm, ['vgcreate', VG, '/dev/vda']);
    await ok(vm, [
      'lvcreate',
      '--yes',
      '-Wy',
      '--setautoactivation',
      'n',
      '-L',
      '8m',
      '-n',
      'x.qcow2',
      '--addtag',
      'pve-vm-1',
      VG,
    ]);
    const out = await ok(vm, [
      'lvs',
      '--reportformat',
      'json',
      '--units',
      'b',
      '--nosuffix',
      '-o',
      'lv_name,lv_uuid,lv_size,lv_tags,lv_attr,lv_active',
      VG,
    ]);
    const lv = (JSON.parse(out) as LvsReport).report[0]?.lv[0];
    expect(lv).toMatchObject({
      lv_name: 'x.qcow2',
      lv_size: String(8 * 2 ** 20),
      lv_tags: 'pve-vm-1',
      lv_active: 'active',
    });
    expect(lv?.lv_attr).toMatch(/^-wi-a/);
    await ok(vm, ['test', '-b', `/dev/${VG}/x.qcow2`]);
    await ok(vm, ['test', '-b', `/dev/mapper/${VG}-x.qcow2`]);
  });

  it('formats and writes qcow2 on the LV with qemu-img and qemu-io', async () => {
    const vm = lab();
    const dev = `/dev/${VG}/x.qcow2`;
    await ok(vm, [
      'qemu-img',
      'create',
      '-f',
      'qcow2',
      '-o',
      'extended_l2=on,cluster_size=128k,preallocation=metadata',
      dev,
      '4M',
    ]);
    await ok(vm, ['qemu-io', '-c', 'write -P 0x5a 0 64k', dev]);
    expect(await ok(vm, ['qemu-io', '-c', 'read -P 0x5a 0 64k', dev])).toContain('read 65536/65536');
    const info = JSON.parse(await ok(vm, ['qemu-img', 'info', '--output=json', dev])) as Record<
      string,
      unknown
    >;
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 4 * 2 ** 20, 'cluster-size': 128 * 1024 });
    await ok(vm, ['qemu-img', 'check', dev]);
  });

  it('zeroes an LV with blkdiscard --zeroout', async () => {
    const vm = lab();
    const dev = `/dev/${VG}/x.qcow2`;
    const head = `dd if=${dev} bs=64k count=1 2>/dev/null | od -An -v -tx1 | sort -u`;
    expect((await ok(vm, ['sh', '-c', head])).trim()).not.toBe(
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00',
    );
    // the dm device supports write-zeroes, so this is not a fallback to plain writes
    const dm = (await ok(vm, ['lsblk', '-ndo', 'KNAME', dev])).trim();
    expect(dm).toMatch(/^dm-\d+$/);
    expect(Number(await ok(vm, ['cat', `/sys/block/${dm}/queue/write_zeroes_max_bytes`]))).toBeGreaterThan(0);
    await ok(vm, ['blkdiscard', '--zeroout', dev]);
    const od = await ok(vm, ['sh', '-c', head]);
    expect(od.trim()).toBe('00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
  });

  it('has flock -w (util-linux) with a working timeout', async () => {
    const vm = lab();
    await ok(vm, ['flock', '-w', '1', '/run/lock/lab.lock', 'true']);
    // held by a background holder: a second flock -w 1 must time out (exit 1)
    const r = await vm.run([
      'sh',
      '-c',
      '(flock /run/lock/lab.lock sleep 3 &) ; sleep 0.5; flock -w 1 /run/lock/lab.lock true; echo "rc=$?"',
    ]);
    expect(r.stdout.trim()).toBe('rc=1');
  });

  it('reports the VG with vgs JSON (free space and metadata area)', async () => {
    const vm = lab();
    const out = await ok(vm, [
      'vgs',
      '-o',
      'vg_name,vg_free,vg_mda_free,vg_extent_size',
      '--reportformat',
      'json',
      '--units',
      'b',
      '--nosuffix',
      VG,
    ]);
    const vg = (JSON.parse(out) as VgsReport).report[0]?.vg[0];
    expect(vg?.vg_name).toBe(VG);
    expect(Number(vg?.vg_extent_size)).toBe(4 * 2 ** 20);
    expect(Number(vg?.vg_mda_free)).toBeGreaterThan(100_000);
    expect(Number(vg?.vg_free)).toBeGreaterThan(900 * 2 ** 20);
  });

  it('presents a fillByte disk with that byte everywhere', async () => {
    const vm = lab();
    const od = await ok(vm, [
      'sh',
      '-c',
      'for o in 0 1000 16383; do dd if=/dev/vdb bs=4096 skip=$o count=1 2>/dev/null; done | od -An -v -tx1 | sort -u',
    ]);
    expect(od.trim()).toBe(Array(16).fill(FILL.toString(16)).join(' '));
    expect((await ok(vm, ['blockdev', '--getsize64', '/dev/vdb'])).trim()).toBe(String(64 * 2 ** 20));
  });
});
