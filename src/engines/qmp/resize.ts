/**
 * Growing the disk of a running VM (DESIGN §12): the storage driver makes room first (lvextend),
 * then QEMU grows the image itself with `block_resize` on the top's format node, as Proxmox
 * does, so the guest's device sees the new size. `qemu-img resize` on an image QEMU writes to
 * would corrupt it.
 */
import type { DesiredVm } from '../../model/desired.js';
import type { Step } from '../../model/plan.js';
import type { ImageSite, StepDescription } from '../engine.js';
import { QmpClient } from './client.js';
import { queryNodes, requireFormatNode } from './graph.js';

export type LiveResizeStep = Extract<Step, { kind: 'resize' }>;

export function describeResize(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveResizeStep,
): StepDescription {
  const path = site.path(disk, step.layer);
  return {
    description: `grow ${site.name(disk, step.layer)} to ${step.virtual_size} bytes in the running VM (QMP ${vm.qmp})`,
    commands: [
      {
        kind: 'qmp',
        socket: vm.qmp,
        message: {
          execute: 'block_resize',
          arguments: { 'node-name': `<the node of ${path}>`, size: step.virtual_size },
        },
      },
    ],
  };
}

/** Grow only: a rerun after the resize finds the size reached and sends nothing. */
export async function resizeLive(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveResizeStep,
): Promise<void> {
  const q = await QmpClient.connect(site.exec, vm.qmp);
  try {
    const node = requireFormatNode(await queryNodes(q), site.path(disk, step.layer), vm.qmp, true);
    if ((node.image?.['virtual-size'] ?? 0) >= step.virtual_size) return;
    await q.execute('block_resize', { 'node-name': node['node-name'], size: step.virtual_size });
  } finally {
    q.close();
  }
}
