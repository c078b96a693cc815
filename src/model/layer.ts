/**
 * Logical layer references. The planner speaks only in these; each backend's layout maps
 * them to LV or file names (`snap_<disk>_<snap>.qcow2`, `snap-<snap>-<disk>.qcow2`, …).
 */

export type LayerRef =
  | { role: 'top' }
  | { role: 'snapshot'; snap: string }
  /** A layer renamed aside during a commit merge; it is removed as the last step. */
  | { role: 'trash'; of: { role: 'top' } | { role: 'snapshot'; snap: string } };

export const TOP: LayerRef = { role: 'top' };

export function snapRef(snap: string): LayerRef {
  return { role: 'snapshot', snap };
}

export function trashRef(of: LayerRef): LayerRef {
  if (of.role === 'trash') throw new Error('a trash layer cannot be renamed to trash again');
  return { role: 'trash', of };
}

/** Stable key for maps and comparisons. */
export function refKey(ref: LayerRef): string {
  switch (ref.role) {
    case 'top':
      return 'top';
    case 'snapshot':
      return `snap:${ref.snap}`;
    case 'trash':
      return `trash:${refKey(ref.of)}`;
  }
}

export function sameRef(a: LayerRef | undefined, b: LayerRef | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return refKey(a) === refKey(b);
}

export function describeRef(ref: LayerRef): string {
  switch (ref.role) {
    case 'top':
      return 'top';
    case 'snapshot':
      return `snapshot ${ref.snap}`;
    case 'trash':
      return `trash of ${describeRef(ref.of)}`;
  }
}
