/** `lvchain show <disk>`: the chain as a tree, top first, down to the base. */
import type { ObservedDisk, ObservedLayer } from '../model/observed.js';
import type { PveVmPlacement } from '../model/proxmox.js';
import type { ChainView } from '../model/chain-view.js';
import { diskAddress } from '../model/address.js';
import { refKey } from '../model/layer.js';
import { formatBytes } from '../base/units.js';
import { isoSeconds } from '../base/instants.js';
import type { Style } from './style.js';
import { termLines, termText } from './escape.js';

/** The size of a snapshot's saved RAM state volume, where the storage holds it. */
export type StateBytes = (vmid: number, snap: string) => number | undefined;

export function renderDiskTree(
  disk: ObservedDisk,
  view: ChainView,
  opts: { storage: string; location: string; style: Style; stateBytes: StateBytes },
): string {
  const st = opts.style;
  const byKey = new Map(disk.layers.map((l) => [refKey(l.ref), l]));
  const ordered: ObservedLayer[] = view.chain
    ? view.chain.map((ref) => byKey.get(refKey(ref)) as ObservedLayer).reverse()
    : [...disk.layers];
  const rest = disk.layers.filter((l) => !ordered.includes(l));
  const top = ordered[0];
  const size =
    top && top.header.state === 'read' ? formatBytes(top.header.header.virtualSize) : 'unknown size';
  const lines = [
    st.bold(diskAddress(disk.name)) +
      `  ${size}, ${ordered.length} layer(s) on ${opts.storage} (${opts.location})${view.verified ? '' : st.yellow('  [not verified: inactive]')}`,
  ];
  const rows = ordered.map((l, i) => {
    const indent = i === 0 ? '' : `${'  '.repeat(i - 1)}└─ `;
    return [
      indent + termText(l.name),
      termText(l.ref.role === 'top' ? '(top)' : l.ref.role === 'snapshot' ? l.ref.snap : 'trash'),
      termText(l.meta?.created ?? ''),
      termText(kindOf(l)),
      formatBytes(l.bytes),
    ];
  });
  for (const l of rest)
    rows.push([
      `? ${termText(l.name)}`,
      l.ref.role,
      termText(l.meta?.created ?? ''),
      'not in chain',
      formatBytes(l.bytes),
    ]);
  const head = ['LAYER', 'SNAPSHOT', 'CREATED', 'KIND', 'ALLOCATED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ');
  lines.push(st.dim(fmt(head)), ...rows.map(fmt));
  for (const vm of disk.proxmoxVms ?? []) lines.push(...proxmoxLines(vm, opts.stateBytes, st));
  for (const p of view.problems)
    lines.push(st.yellow(`problem: ${termText(p.code)}: ${termText(p.message)}`));
  return lines.join('\n');
}

/** The kind column: a live snapshot says how consistent it is. */
function kindOf(l: ObservedLayer): string {
  if (!l.meta) return 'not owned';
  const kind = l.meta.kind ?? '';
  return l.meta.consistency ? `${kind} (${l.meta.consistency}-consistent)` : kind;
}

/**
 * What the Proxmox VM config that lists the disk says of its snapshots, oldest first: when
 * Proxmox took each, the RAM state saved with it (and its size), and its description.
 */
function proxmoxLines(vm: PveVmPlacement, stateBytes: StateBytes, st: Style): string[] {
  const where = `${termText(vm.node)}${vm.here ? ' (this node)' : ''}`;
  const lock = vm.lock !== undefined ? st.yellow(`, locked (${termText(vm.lock)})`) : '';
  const out = [`Proxmox VE VM ${vm.vmid} on ${where}, ${vm.state}${lock}`];
  const snaps = Object.entries(vm.snapshots).sort(([, a], [, b]) => (a.snaptime ?? 0) - (b.snaptime ?? 0));
  for (const [name, f] of snaps) {
    const parts = [`  [${termText(name)}]`];
    if (f.snaptime !== undefined) parts.push(isoSeconds(f.snaptime * 1000));
    if (f.vmstate !== undefined) {
      const bytes = stateBytes(vm.vmid, name);
      parts.push(`RAM state ${termText(f.vmstate)}${bytes !== undefined ? ` (${formatBytes(bytes)})` : ''}`);
    }
    out.push(parts.join('  '));
    for (const line of f.description ? termLines(f.description) : []) out.push(st.dim(`    ${line}`));
  }
  return out;
}
