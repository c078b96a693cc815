/**
 * The LVM commands of the storage steps: LV creation, extension, renaming, removal, tags,
 * zeroing and VG creation, as argv arrays the plan shows and apply runs.
 */
import type { LayerRef } from '../../model/layer.js';
import type { PlannedCommand, PlannedStep } from '../../model/plan.js';
import { LvchainError } from '../../base/errors.js';
import type { StorageStep } from '../driver.js';
import { setMetaVerb } from '../set-meta.js';
import { lvName, proxmoxTags } from './layout.js';
import { metaToTags, tagDiff } from './tags.js';

/**
 * Zeroing in 64 MiB steps, so the verbose output (a line at most once a second) doubles as
 * progress. blkdiscard's stdout to a pipe is block-buffered, so without `stdbuf -oL` its
 * lines arrived 4 KiB at a time, over a minute apart, or all at the end (measured in the lab VM).
 */
export function zeroArgv(dev: string): string[] {
  return ['stdbuf', '-oL', 'blkdiscard', '--zeroout', '--verbose', '--step', '64M', dev];
}

export function isZeroArgv(argv: readonly string[]): boolean {
  return argv[0] === 'stdbuf' && argv[2] === 'blkdiscard';
}

/**
 * The device's size (read for progress), `blkdiscard --zeroout` (the kernel emulates
 * write-zeroes where a device lacks it), and the `dd` that writes the zeros instead if the ioctl
 * is refused outright: all three are in the plan. `at` is where these commands start in the step.
 */
function zeroCommands(dev: string, at: number): PlannedCommand[] {
  return [
    { kind: 'argv', argv: ['blockdev', '--getsize64', dev] },
    { kind: 'argv', argv: zeroArgv(dev) },
    {
      kind: 'argv',
      argv: ['dd', 'if=/dev/zero', `of=${dev}`, 'bs=4M', 'oflag=direct', 'conv=fsync'],
      fallback_for: { index: at + 1, when: 'zeroout_refused' },
    },
  ];
}

const run = (argv: string[]): PlannedCommand => ({ kind: 'argv', argv });

/** The commands that change VG metadata: what Proxmox serialises with its storage lock. */
export function changesMetadata(argv: readonly string[]): boolean {
  const [tool] = argv;
  if (tool === 'lvcreate' || tool === 'lvextend' || tool === 'lvrename' || tool === 'lvremove') return true;
  return (
    (tool === 'lvchange' || tool === 'vgchange') && argv.some((a) => a === '--addtag' || a === '--deltag')
  );
}

export function describeLvmStep(
  vg: string,
  disk: string,
  step: StorageStep,
): Pick<PlannedStep, 'description' | 'commands'> {
  const name = (ref: LayerRef) => lvName(disk, ref);
  const lv = (ref: LayerRef) => `${vg}/${name(ref)}`;
  const dev = (ref: LayerRef) => `/dev/${vg}/${name(ref)}`;
  switch (step.kind) {
    case 'set_meta': {
      const { add, del } = tagDiff(step.from, step.meta);
      const what = setMetaVerb(step.purpose);
      if (add.length === 0 && del.length === 0)
        return { description: `${what} ${name(step.layer)} (already current)`, commands: [] };
      return {
        description: `${what} ${name(step.layer)}`,
        commands: [
          run([
            'lvchange',
            ...del.flatMap((t) => ['--deltag', t]),
            ...add.flatMap((t) => ['--addtag', t]),
            lv(step.layer),
          ]),
        ],
      };
    }
    case 'allocate': {
      if (step.capacity === undefined)
        throw new LvchainError('plan_invalid', `allocate of ${name(step.layer)} has no LV size`);
      const tags = [...proxmoxTags(disk), ...metaToTags(step.meta)];
      return {
        description: `create LV ${name(step.layer)} (${step.capacity} bytes)`,
        commands: [
          run([
            'lvcreate',
            '--yes',
            '-Wy',
            '-ay',
            '--setautoactivation',
            'n',
            '--size',
            `${Math.ceil(step.capacity / 1024)}k`,
            '--name',
            name(step.layer),
            ...tags.flatMap((t) => ['--addtag', t]),
            vg,
          ]),
        ],
      };
    }
    case 'wipe':
      return {
        description: `zero ${name(step.layer)} (wipe: zeroout-on-create)`,
        commands: zeroCommands(dev(step.layer), 0),
      };
    case 'extend':
      if (step.capacity === undefined)
        throw new LvchainError('plan_invalid', `extend of ${name(step.layer)} has no LV size`);
      return {
        description: `extend LV ${name(step.layer)} to ${step.capacity} bytes`,
        commands: [run(['lvextend', '--size', `${Math.ceil(step.capacity / 1024)}k`, lv(step.layer)])],
      };
    case 'rename':
      return {
        description: `rename ${name(step.from)} to ${name(step.to)}`,
        commands: [run(['lvrename', vg, name(step.from), name(step.to)])],
      };
    case 'remove':
      return {
        description: `${step.wipe ? 'zero and ' : ''}remove LV ${name(step.layer)}`,
        commands: [
          ...(step.wipe ? zeroCommands(dev(step.layer), 0) : []),
          run(['lvremove', '--yes', lv(step.layer)]),
        ],
      };
    case 'create_vg':
      return {
        description: `create volume group ${vg} on ${step.devices.join(', ')} (checked blank again first)`,
        commands: [
          ...step.devices.map((d) => run(['wipefs', '--json', d])),
          run(['pvcreate', '--yes', ...step.devices]),
          run(['vgcreate', vg, ...step.devices]),
        ],
      };
  }
}
