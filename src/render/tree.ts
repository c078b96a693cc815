/** `lvchain show <disk>`: the chain as a tree, top first, down to the base. */
import type { ObservedDisk, ObservedLayer } from '../model/observed.js';
import type { ChainView } from '../model/chain-view.js';
import { diskAddress } from '../model/address.js';
import { refKey } from '../model/layer.js';
import { formatBytes } from '../base/units.js';
import type { Style } from './style.js';
import { termText } from './escape.js';

export function renderDiskTree(
  disk: ObservedDisk,
  view: ChainView,
  opts: { storage: string; location: string; style: Style },
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
