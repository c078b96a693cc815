/**
 * Reading QEMU's block graph: which node holds which file. A node is identified by the file it
 * opened; a node whose options were given explicitly reports a `json:{…}` pseudo-filename,
 * whose protocol child names the file.
 */
import { LvchainError } from '../../base/errors.js';
import type { QmpClient } from './client.js';

export interface BlockNode {
  'node-name': string;
  drv: string;
  ro: boolean;
  file: string;
  image?: { 'virtual-size'?: number; 'format-specific'?: { data?: { 'extended-l2'?: boolean } } };
}

/** The file a node reads: its own filename, or the protocol child's inside a json: pseudo-filename. */
export function fileOf(node: Pick<BlockNode, 'file'>): string {
  if (!node.file.startsWith('json:')) return node.file;
  try {
    let v: unknown = JSON.parse(node.file.slice(5));
    while (typeof v === 'object' && v !== null) {
      const o = v as { filename?: unknown; file?: unknown };
      if (typeof o.filename === 'string') return o.filename;
      v = o.file;
    }
  } catch {
    // not JSON after all: the name as it stands
  }
  return node.file;
}

export function queryNodes(q: QmpClient): Promise<BlockNode[]> {
  return q.execute<BlockNode[]>('query-named-block-nodes', { flat: true });
}

/** The qcow2 node of a layer; `writable` picks the active one (a layer is open once for writing). */
export function formatNodeOf(
  nodes: readonly BlockNode[],
  path: string,
  writable?: boolean,
): BlockNode | undefined {
  return nodes.find(
    (n) => n.drv === 'qcow2' && fileOf(n) === path && (writable === undefined || n.ro === !writable),
  );
}

export function requireFormatNode(
  nodes: readonly BlockNode[],
  path: string,
  socket: string,
  writable?: boolean,
): BlockNode {
  const n = formatNodeOf(nodes, path, writable);
  if (!n)
    throw new LvchainError(
      'vm_failed',
      `QEMU at ${socket} has no ${writable ? 'writable ' : ''}qcow2 node for ${path}`,
      {
        details: { socket, path },
      },
    );
  return n;
}

/**
 * Remove the nodes that still open `path` (after a stream took the layer out of the chain):
 * monitor-made nodes need `blockdev-del`; implicit ones went with their parent. A node that
 * stays is an error, so the file is not removed under QEMU.
 */
export async function dropNodesOf(q: QmpClient, path: string): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    const left = (await queryNodes(q)).filter((n) => fileOf(n) === path);
    if (left.length === 0) return;
    // Format nodes first: their protocol child cannot go while the parent holds it.
    left.sort((a, b) => Number(b.drv === 'qcow2') - Number(a.drv === 'qcow2'));
    for (const n of left)
      await q.execute('blockdev-del', { 'node-name': n['node-name'] }).catch(() => undefined);
  }
  const left = (await queryNodes(q)).filter((n) => fileOf(n) === path);
  if (left.length > 0)
    throw new LvchainError(
      'vm_failed',
      `QEMU at ${q.socket} still opens ${path} (node ${left.map((n) => n['node-name']).join(', ')}); the layer is not removed`,
    );
}

interface GraphDump {
  nodes: { id: number; type: string; name: string }[];
  edges: { parent: number; child: number; name: string }[];
}

/**
 * The nodes a format node reads as its `file` and `backing` children, null where it has none.
 * QMP's stable queries give file names only, and a layer can be open twice; the block graph
 * dump names the very nodes.
 */
export async function childrenOf(
  q: QmpClient,
  nodeName: string,
): Promise<{ file: string | null; backing: string | null }> {
  const g = await q.execute<GraphDump>('x-debug-query-block-graph');
  const self = g.nodes.find((n) => n.type === 'block-driver' && n.name === nodeName);
  const child = (name: string) => {
    const edge = self && g.edges.find((e) => e.parent === self.id && e.name === name);
    return edge ? (g.nodes.find((n) => n.id === edge.child)?.name ?? null) : null;
  };
  return { file: child('file'), backing: child('backing') };
}

export async function backingNodeOf(q: QmpClient, nodeName: string): Promise<string | null> {
  return (await childrenOf(q, nodeName)).backing;
}

/**
 * Make a node that was opened read-only writable, keeping its children: a stream writes into
 * an intermediate layer, and QEMU refuses that on a node made read-only on purpose.
 */
export async function reopenWritable(q: QmpClient, nodeName: string): Promise<void> {
  const { file, backing } = await childrenOf(q, nodeName);
  if (file === null)
    throw new LvchainError('vm_failed', `QEMU at ${q.socket}: node ${nodeName} has no file child`);
  await q.execute('blockdev-reopen', {
    options: [{ driver: 'qcow2', 'node-name': nodeName, file, backing, 'read-only': false }],
  });
}

/** QEMU's version as major.minor (`query-version`). */
export async function qemuVersion(q: QmpClient): Promise<string> {
  const v = await q.execute<{ qemu: { major: number; minor: number } }>('query-version');
  return `${v.qemu.major}.${v.qemu.minor}`;
}
