/**
 * Name rules shared by config validation and observation. They are the intersection of
 * what LVM, qemu-img, Proxmox and a POSIX shell accept without quoting surprises.
 */

/** Snapshot names: Proxmox's pve-configid rule, at most 40 characters (DESIGN §3). */
export const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
export const SNAPSHOT_NAME_MAX = 40;

/** Names of scheduled snapshots start with `auto-`; a config cannot pin such a name. */
export function isScheduledName(snap: string): boolean {
  return snap.startsWith('auto-');
}

/**
 * Disk names become LV names `<disk>.qcow2` and `snap_<disk>_<snap>.qcow2` (LVM allows
 * `A-Za-z0-9+_.-`, at most 127 characters, not starting with `-`) and file names.
 * Proxmox's parse_lvm_name additionally wants alphanumerics at both ends. No `i` flag:
 * the pattern is copied into the JSON Schema, where flags do not exist.
 */
export const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]$/;
export const DISK_NAME_MAX = 80;

/** Names of hosts, storages, policies and guests: identifiers used in addresses and tags. */
export const OBJECT_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const OBJECT_NAME_MAX = 64;

/** LVM VG names: `A-Za-z0-9+_.-`, not starting with `-`, not `.` or `..`. */
export const VG_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;
export const VG_NAME_MAX = 127;

export type NameKind = 'snapshot' | 'disk' | 'object' | 'vg';

export function describeNameRule(kind: NameKind): string {
  switch (kind) {
    case 'snapshot':
      return `a letter, then letters, digits, "_" or "-", at most ${SNAPSHOT_NAME_MAX} characters`;
    case 'disk':
      return `letters, digits, "_", "." or "-", starting and ending with a letter or digit, at most ${DISK_NAME_MAX} characters`;
    case 'object':
      return `a letter, then letters, digits, "_", "." or "-", at most ${OBJECT_NAME_MAX} characters`;
    case 'vg':
      return `letters, digits, "+", "_", "." or "-", not starting with "-", at most ${VG_NAME_MAX} characters`;
  }
}

const RULES: Record<
  NameKind,
  { pattern: RegExp; max: number; allowed: RegExp; first: RegExp; last?: RegExp }
> = {
  snapshot: {
    pattern: SNAPSHOT_NAME,
    max: SNAPSHOT_NAME_MAX,
    allowed: /[A-Za-z0-9_-]/,
    first: /[A-Za-z]/,
  },
  disk: {
    pattern: DISK_NAME,
    max: DISK_NAME_MAX,
    allowed: /[A-Za-z0-9_.-]/,
    first: /[A-Za-z0-9]/,
    last: /[A-Za-z0-9]/,
  },
  object: { pattern: OBJECT_NAME, max: OBJECT_NAME_MAX, allowed: /[A-Za-z0-9_.-]/, first: /[A-Za-z]/ },
  vg: { pattern: VG_NAME, max: VG_NAME_MAX, allowed: /[A-Za-z0-9+_.-]/, first: /[A-Za-z0-9+_.]/ },
};

/**
 * Names of Object.prototype members (`constructor`, `toString`, `__proto__`, …). Records
 * keyed by names are plain objects in many places, where such a name would find the
 * prototype's member instead of nothing, or vanish; so no lvchain name may be one.
 */
export function isReservedName(name: string): boolean {
  return Object.getOwnPropertyNames(Object.prototype).includes(name);
}

/** How a character reads in a message: `"/"`, `a space`, `a tab`. */
function shown(ch: string): string {
  if (ch === ' ') return 'a space';
  if (ch === '\t') return 'a tab';
  if (ch === '\n' || ch === '\r') return 'a line break';
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `the control character U+${code.toString(16).padStart(4, '0')}`;
  return `"${ch}"`;
}

/**
 * What is wrong with a name, in words, or undefined if it is valid. The message names
 * the first offending character, so `vm-1;reboot` reads `cannot contain ";"`.
 */
export function nameProblem(kind: NameKind, name: string): string | undefined {
  const rule = RULES[kind];
  const what = kind === 'vg' ? 'VG names' : `${kind} names`;
  const advice = `use ${describeNameRule(kind)}`;
  if (name.length === 0) return `${what} cannot be empty`;
  if (isReservedName(name))
    return `${what} cannot be "${name}", which every JavaScript object has as a member; choose another name`;
  if (kind === 'vg' && (name === '.' || name === '..')) return `VG names cannot be "." or ".."`;
  const bad = [...name].find((ch) => !rule.allowed.test(ch));
  if (bad !== undefined) return `${what} cannot contain ${shown(bad)}; ${advice}`;
  const first = name[0] as string;
  if (!rule.first.test(first)) return `${what} cannot start with ${shown(first)}; ${advice}`;
  const last = name[name.length - 1] as string;
  if (rule.last && !rule.last.test(last)) return `${what} cannot end with ${shown(last)}; ${advice}`;
  if (kind === 'disk' && name.length < 2) return `disk names have at least 2 characters`;
  if (name.length > rule.max)
    return `${what} have at most ${rule.max} characters; this one has ${name.length}`;
  return rule.pattern.test(name) ? undefined : `${what} must be ${describeNameRule(kind)}`;
}

/** The closest of `candidates` to `name` (case-insensitive, at most `max` edits), if any. */
export function closest(name: string, candidates: Iterable<string>, max = 2): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const limit = Math.min(max, Math.max(1, Math.floor(c.length / 3)));
    // The distance is at least the difference in length; skipping saves the quadratic work on long input.
    if (Math.abs(c.length - name.length) > limit) continue;
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance && d <= limit) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = Array.from({ length: rows * cols }, (_, k) =>
    k < cols ? k : k % cols === 0 ? k / cols : 0,
  );
  const at = (i: number, j: number) => d[i * cols + j] as number;
  for (let i = 1; i < rows; i++)
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  return at(a.length, b.length);
}

/** Proxmox VMID of a `vm-<id>-…` or `base-<id>-…` disk, used for tags and directory layout. */
export function vmidOf(disk: string): string | undefined {
  return /^(?:vm|base)-(\d+)-/.exec(disk)?.[1];
}
