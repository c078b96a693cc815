/**
 * A layer renamed under a running VM (the swap after a live commit): QEMU keeps reading the
 * file through its open descriptor, but its node would name a path that no longer exists. The
 * node is moved onto a protocol node opened by the new name (`blockdev-reopen` with a new
 * `file` child), so QEMU's graph names what is on disk.
 */
import { createHash } from 'node:crypto';
import type { DesiredVm } from '../../model/desired.js';
import type { LayerRef } from '../../model/layer.js';
import type { PlannedCommand } from '../../model/plan.js';
import type { ImageSite } from '../engine.js';
import { QmpClient } from './client.js';
import { childrenOf, fileOf, queryNodes } from './graph.js';
import { protocolNode } from './index.js';
import type { JsonObject } from '../../exec/json-lines.js';

function fileNodeName(path: string, hop: 'r' | 't'): string {
  return `lvc-${createHash('sha256').update(path).digest('hex').slice(0, 16)}-${hop}`;
}

/**
 * The old protocol node holds QEMU's lock on the file (the same inode under its new name), so a
 * new locked node cannot take it over directly: the node hops over an unlocked one for a moment.
 */
function protocolOptions(site: ImageSite, path: string, hop: 'r' | 't'): JsonObject {
  return {
    ...protocolNode(site, path),
    'node-name': fileNodeName(path, hop),
    ...(hop === 't' ? { locking: 'off' } : {}),
  };
}

function messages(
  site: ImageSite,
  now: string,
  node: string,
  oldFile: string | null,
  backing: string | null,
  ro: boolean,
): JsonObject[] {
  const reopen = (file: string): JsonObject => ({
    execute: 'blockdev-reopen',
    arguments: { options: [{ driver: 'qcow2', 'node-name': node, file, backing, 'read-only': ro }] },
  });
  return [
    { execute: 'blockdev-add', arguments: protocolOptions(site, now, 't') },
    reopen(fileNodeName(now, 't')),
    // Implicit protocol nodes go with the reopen; one the monitor added stays until deleted.
    ...(oldFile !== null && !oldFile.startsWith('#')
      ? [{ execute: 'blockdev-del', arguments: { 'node-name': oldFile } }]
      : []),
    { execute: 'blockdev-add', arguments: protocolOptions(site, now, 'r') },
    reopen(fileNodeName(now, 'r')),
    { execute: 'blockdev-del', arguments: { 'node-name': fileNodeName(now, 't') } },
  ];
}

export function describeReattach(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  from: LayerRef,
  to: LayerRef,
): PlannedCommand[] {
  const was = site.path(disk, from);
  return messages(
    site,
    site.path(disk, to),
    `<the node of ${was}>`,
    `<its file node>`,
    `<its backing node>`,
    false,
  ).map((m): PlannedCommand => ({
    kind: 'qmp',
    socket: vm.qmp,
    message: { execute: m.execute as string, arguments: m.arguments as JsonObject },
  }));
}

/** Move every qcow2 node that opened `was` onto `now`; its old protocol node is deleted. */
export async function reattachLive(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  from: LayerRef,
  to: LayerRef,
): Promise<void> {
  const was = site.path(disk, from);
  const now = site.path(disk, to);
  const q = await QmpClient.connect(site.exec, vm.qmp);
  try {
    for (const n of (await queryNodes(q)).filter((x) => x.drv === 'qcow2' && fileOf(x) === was)) {
      const { file, backing } = await childrenOf(q, n['node-name']);
      for (const m of messages(site, now, n['node-name'], file, backing, n.ro))
        await q.execute(m.execute as string, m.arguments as JsonObject);
    }
  } finally {
    q.close();
  }
}
