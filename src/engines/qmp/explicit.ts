/**
 * Nodes QEMU opened by itself, following a header's backing reference, are named `#blockNNN`
 * and cannot be reopened: QMP can neither move them onto a renamed file nor change their
 * backing. Before a commit renames layers under the VM, the chain from the active node down to
 * the base is made of nodes lvchain added: each implicit node is replaced by an explicit one on
 * the same file, with the same backing, and its parent is reopened onto it.
 */
import { createHash } from 'node:crypto';
import { LvchainError } from '../../base/errors.js';
import type { QmpClient } from './client.js';
import { childrenOf, fileOf, queryNodes } from './graph.js';
import type { ImageSite } from '../engine.js';
import { protocolNode } from './index.js';

function explicitName(path: string): string {
  return `lvc-${createHash('sha256').update(path).digest('hex').slice(0, 16)}-x`;
}

/** Walk down from `active` until the node of `basePath`, replacing implicit nodes on the way. */
export async function makeExplicit(
  q: QmpClient,
  site: ImageSite,
  active: string,
  basePath: string,
): Promise<void> {
  let parent = active;
  for (let depth = 0; depth < 1024; depth++) {
    const { file, backing } = await childrenOf(q, parent);
    if (backing === null) return;
    const node = (await queryNodes(q)).find((n) => n['node-name'] === backing);
    if (!node) return;
    let next = backing;
    if (backing.startsWith('#')) {
      if (parent.startsWith('#'))
        throw new LvchainError(
          'vm_failed',
          `QEMU at ${q.socket} opened ${fileOf(node)} below a node it named itself (${parent}), which QMP cannot reopen; start the VM with -blockdev nodes (as Proxmox VE does) to change this chain live`,
        );
      const path = fileOf(node);
      next = explicitName(path);
      const below = await childrenOf(q, backing);
      await q.execute('blockdev-add', {
        driver: 'qcow2',
        'node-name': next,
        'read-only': true,
        file: protocolNode(site, path),
        backing: below.backing,
      });
      await q.execute('blockdev-reopen', {
        options: [
          {
            driver: 'qcow2',
            'node-name': parent,
            file,
            backing: next,
            'read-only': !isWritable(parent, await queryNodes(q)),
          },
        ],
      });
    }
    if (fileOf(node) === basePath) return;
    parent = next;
  }
}

function isWritable(name: string, nodes: readonly { 'node-name': string; ro: boolean }[]): boolean {
  return nodes.find((n) => n['node-name'] === name)?.ro === false;
}
