/**
 * What each storage kind's steps run, as the plan shows it: the qemu-img cache mode of every data
 * move, the planned fallback of a wipe, and metadata writes that run in lvchain itself.
 */
import { describe, expect, it } from 'vitest';
import { createRealiser } from '../../../src/apply/realiser.js';
import type { Executor } from '../../../src/exec/executor.js';
import type { Step } from '../../../src/model/plan.js';
import { commandLines } from '../../../src/render/commands.js';

const unused: Executor = {
  host: 'local',
  run: () => Promise.reject(new Error('describe runs nothing')),
  runBatch: () => Promise.reject(new Error('describe runs nothing')),
  spawn: () => Promise.reject(new Error('describe runs nothing')),
  openSocket: () => Promise.reject(new Error('describe runs nothing')),
  close: () => Promise.resolve(),
};
const reserve = { kind: 'percent', value: 0 } as const;
const lvm = createRealiser({ kind: 'lvm', name: 'vg0', pvs: [], reserve, wipe: 'none' }, unused);
const dir = createRealiser({ kind: 'dir', name: 'd0', path: '/srv/d0', reserve }, unused);
const DISK = 'vm-100-disk-0';
const s1 = { role: 'snapshot', snap: 's1' } as const;
const top = { role: 'top' } as const;

const argvOf = (r: typeof lvm, step: Step): string[][] =>
  r.describe(DISK, step).commands.flatMap((c) => (c.kind === 'argv' ? [c.argv] : []));

describe('data moves', () => {
  const stream: Step = { kind: 'stream', layer: top, from: s1, onto: null, bytes: 0 };
  const commit: Step = { kind: 'commit', layer: top, into: s1, bytes: 0 };

  it('streams write through on LVM (directsync, uncached backing read); on files the copy is flushed before the backing switch', () => {
    expect(argvOf(lvm, stream)).toEqual([
      [
        'qemu-img',
        'rebase',
        '-p',
        '-t',
        'directsync',
        '-T',
        'none',
        '-f',
        'qcow2',
        '-b',
        '',
        `/dev/vg0/${DISK}.qcow2`,
      ],
    ]);
    const image = `/srv/d0/images/100/${DISK}.qcow2`;
    const alone = (path: string) =>
      `json:{"driver":"qcow2","file":{"driver":"file","filename":"${path}"},"backing":null}`;
    expect(argvOf(dir, stream)).toEqual([
      ['qemu-img', 'map', '--output=json', '-U', alone(`/srv/d0/images/100/snap-s1-${DISK}.qcow2`)],
      ['qemu-img', 'map', '--output=json', '-U', alone(image)],
      ['qemu-io', '-C', '-t', 'writeback', '-f', 'qcow2', image],
      // The switch is header-only, and comes last.
      ['qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b', '', image],
    ]);
  });

  it('commits bypass the page cache on LVM and keep qemu-img’s default on files', () => {
    expect(argvOf(lvm, commit)[0]).toEqual([
      'qemu-img',
      'commit',
      '-p',
      '-t',
      'none',
      '-f',
      'qcow2',
      '-d',
      '-b',
      `/dev/vg0/snap_${DISK}_s1.qcow2`,
      `/dev/vg0/${DISK}.qcow2`,
    ]);
    expect(argvOf(dir, commit)[0]).not.toContain('-t');
  });
});

describe('commands the plan shows', () => {
  it('a wiping remove on LVM lists the size read, and the dd that stands in for a refused blkdiscard', () => {
    const { commands } = lvm.describe(DISK, { kind: 'remove', layer: s1, wipe: true });
    expect(commands.map((c) => c.kind === 'argv' && c.argv[0])).toEqual([
      'blockdev',
      'stdbuf',
      'dd',
      'lvremove',
    ]);
    // Line-buffered, so its progress lines arrive as they are written, not 4 KiB at a time.
    expect(commandLines(commands)[1]).toMatch(/^stdbuf -oL blkdiscard --zeroout --verbose /);
    expect(commands[2]).toMatchObject({ fallback_for: { index: 1, when: 'zeroout_refused' } });
    expect(commandLines(commands)[2]).toMatch(/^dd .*\(only if the device refuses BLKZEROOUT\)$/);
  });

  it('creating a VG lists the blank check of every device before pvcreate', () => {
    const { commands } = lvm.describe(DISK, { kind: 'create_vg', devices: ['/dev/sdb', '/dev/sdc'] });
    expect(commandLines(commands)).toEqual([
      'wipefs --json /dev/sdb',
      'wipefs --json /dev/sdc',
      'pvcreate --yes /dev/sdb /dev/sdc',
      expect.stringMatching(/^vgcreate \S+ \/dev\/sdb \/dev\/sdc$/),
    ]);
  });

  it('directory metadata writes are in-process, and text output shows no command for them', () => {
    const meta = { disk: DISK };
    const { commands } = dir.describe(DISK, {
      kind: 'set_meta',
      layer: top,
      from: meta,
      meta,
      purpose: 'update',
    });
    expect(commands).toEqual([
      { kind: 'in_process', description: `write the entry of ${DISK}.qcow2 in ${DISK}.lvchain.json` },
    ]);
    expect(commandLines(commands)).toEqual([]);
  });
});
