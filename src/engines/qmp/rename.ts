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
import { childrenOf, dropNodesOf, fileOf, queryNodes } from './graph.js';
import { protocolNode } from './index.js';
import type { JsonObject } from '../../exec/json-lines.js';

/** The hop nodes of one format node onto one path: named by both, so two nodes never collide. */
function fileNodeName(node: string, path: string, hop: 'r' | 't'): string {
  return `lvc-${createHash('sha256').update(`${node}\0${path}`).digest('hex').slice(0, 16)}-${hop}`;
}

/**
 * The old protocol node holds QEMU's lock on the file (the same inode under its new name), so a
 * new locked node cannot take it over directly: the node hops over an unlocked one for a moment.
 */
function protocolOptions(site: ImageSite, node: string, path: string, hop: 'r' | 't'): JsonObject {
  return {
    ...protocolNode(site, path),
    'node-name': fileNodeName(node, path, hop),
    ...(hop === 't' ? { locking: 'off' } : {}),
  };
}

function reopen(node: string, file: string, backing: string | null, ro: boolean): JsonObject {
  return {
    execute: 'blockdev-reopen',
    arguments: { options: [{ driver: 'qcow2', 'node-name': node, file, backing, 'read-only': ro }] },
  };
}

/** One format node's move onto the protocol node of `now`, keeping its backing and mode. */
export interface NodeMove {
  site: ImageSite;
  now: string;
  node: string;
  backing: string | null;
  ro: boolean;
}

/** Onto the unlocked hop: its node added, the format node moved, the old protocol node deleted. */
function firstHop(m: NodeMove, oldFile: string | null): JsonObject[] {
  return [
    { execute: 'blockdev-add', arguments: protocolOptions(m.site, m.node, m.now, 't') },
    reopen(m.node, fileNodeName(m.node, m.now, 't'), m.backing, m.ro),
    // Implicit protocol nodes go with the reopen; one the monitor added stays until deleted.
    ...(oldFile !== null && !oldFile.startsWith('#')
      ? [{ execute: 'blockdev-del', arguments: { 'node-name': oldFile } }]
      : []),
  ];
}

/** From the unlocked hop onto the locked node that stays. */
function secondHop(m: NodeMove): JsonObject[] {
  return [
    { execute: 'blockdev-add', arguments: protocolOptions(m.site, m.node, m.now, 'r') },
    reopen(m.node, fileNodeName(m.node, m.now, 'r'), m.backing, m.ro),
    { execute: 'blockdev-del', arguments: { 'node-name': fileNodeName(m.node, m.now, 't') } },
  ];
}

/** Every message of a move that starts from scratch, in order; `oldFile`: the node's file child. */
export function reattachMessages(m: NodeMove, oldFile: string | null): JsonObject[] {
  return [...firstHop(m, oldFile), ...secondHop(m)];
}

export function describeReattach(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  from: LayerRef,
  to: LayerRef,
): PlannedCommand[] {
  const was = site.path(disk, from);
  const move = {
    site,
    now: site.path(disk, to),
    node: `<the node of ${was}>`,
    backing: '<its backing node>',
    ro: false,
  };
  return reattachMessages(move, '<its file node>').map((m): PlannedCommand => ({
    kind: 'qmp',
    socket: vm.qmp,
    message: { execute: m.execute as string, arguments: m.arguments as JsonObject },
  }));
}

/**
 * Move every qcow2 node that opened `was` onto `now`; its old protocol node is deleted. A run
 * stopped part way (lvchain killed between two messages) is finished from where it stopped: a
 * node already on its unlocked hop takes the second hop, a hop node left unused is deleted, and
 * a protocol node still naming `was` with nothing above it goes.
 */
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
    const send = async (messages: JsonObject[]) => {
      for (const m of messages) await q.execute(m.execute as string, m.arguments as JsonObject);
    };
    const nodes = await queryNodes(q);
    const named = new Set(nodes.map((n) => n['node-name']));
    // A node on a hop names `now` through it; one that opened `now` afresh is left alone.
    for (const n of nodes.filter((x) => x.drv === 'qcow2' && (fileOf(x) === was || fileOf(x) === now))) {
      const node = n['node-name'];
      const [t, r] = [fileNodeName(node, now, 't'), fileNodeName(node, now, 'r')];
      let { file, backing } = await childrenOf(q, node);
      if (file !== t && file !== r) {
        if (fileOf(n) !== was) continue;
        for (const left of [t, r].filter((h) => named.has(h)))
          await q.execute('blockdev-del', { 'node-name': left });
        await send(firstHop({ site, now, node, backing, ro: n.ro }, file));
        ({ file, backing } = await childrenOf(q, node));
      }
      if (file === t) {
        if (named.has(r)) await q.execute('blockdev-del', { 'node-name': r });
        await send(secondHop({ site, now, node, backing, ro: n.ro }));
      } else if (named.has(t)) await q.execute('blockdev-del', { 'node-name': t });
    }
    // A protocol node of `was` that a stopped run had moved its format node off.
    await dropNodesOf(q, was);
  } finally {
    q.close();
  }
}
