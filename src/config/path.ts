/** Config paths: where in the document an issue is, as segments and as the dotted text people read. */
import { isPair, isScalar, isSeq } from 'yaml';

export type Segment = string | number;

/** An issue found after parsing: a path into the document, optionally naming a map key. */
export interface PathIssue {
  path: (string | number)[];
  message: string;
  /** Point at this key of the map at `path` rather than at its value. */
  key?: string;
}

export function segments(path: readonly PropertyKey[]): Segment[] {
  return path.map((p) => (typeof p === 'symbol' ? String(p) : p));
}

/** The names of the map and sequence entries from the document root down to `ancestors`' end. */
export function pathOf(ancestors: readonly unknown[]): Segment[] {
  const out: Segment[] = [];
  for (let n = 0; n < ancestors.length; n++) {
    const a = ancestors[n];
    const next = ancestors[n + 1];
    if (isPair(a) && isScalar(a.key)) out.push(String(a.key.value));
    else if (isSeq(a) && next !== undefined) out.push(a.items.indexOf(next as never));
  }
  return out;
}

/**
 * A dotted config path: `guests.web-401.disks.vm-401-disk-0.size`. Segments that are not
 * plain names are quoted (`disks["a b"]`) and list indexes are bracketed (`pvs[1]`).
 */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
