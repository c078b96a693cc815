/**
 * Reading qcow2 headers for a storage in at most two batches: `info --backing-chain` on each
 * top, then plain `info` (which never opens the backing file, so it works on broken chains)
 * for layers the first pass did not reach.
 */
import { dirname } from 'node:path/posix';
import type { Executor } from '../exec/executor.js';
import type {
  BackingLink,
  HeaderObservation,
  LayerHeader,
  ObservedDisk,
  ObservedLayer,
} from '../model/observed.js';
import type { LayerRef } from '../model/layer.js';
import { isLockError, parseInfo, qemuError } from '../observe/qemu.js';

export interface HeaderTarget {
  /** Absolute path of every layer to read, keyed by layer name. */
  paths: Map<string, string>;
  /** Name of the top layer, if there is one. */
  top?: string;
}

/**
 * `qemu-img info` of one image. `-U` reads it while a VM holds it; without `shared`, qemu-img
 * takes the image lock, which fails while another process has the image open.
 */
export function infoArgv(path: string, shared = true): string[] {
  return ['qemu-img', 'info', ...(shared ? ['-U'] : []), '--output=json', '-f', 'qcow2', path];
}

/** `qemu-img info` of a top and every image below it, as `infoArgv` of each. */
export function chainInfoArgv(top: string, shared = true): string[] {
  return [
    'qemu-img',
    'info',
    '--backing-chain',
    ...(shared ? ['-U'] : []),
    '--output=json',
    '-f',
    'qcow2',
    top,
  ];
}

/**
 * With `unheld`, the chain reads take the image locks (no -U), as the in-use look does, and
 * `unheld` receives the path of every image they reached: nothing held it open at that moment.
 * A chain held by a VM then fails its look and is read layer by layer with -U.
 */
export async function readHeaders(
  exec: Executor,
  targets: readonly HeaderTarget[],
  unheld?: Set<string>,
): Promise<Map<string, HeaderObservation>> {
  const out = new Map<string, HeaderObservation>();
  const withTop = targets.filter((t) => t.top !== undefined);
  const chains = await exec.runBatch(
    withTop.map((t) => chainInfoArgv(t.paths.get(t.top as string) as string, unheld === undefined)),
  );
  withTop.forEach((t, i) => {
    const r = chains[i];
    if (!r || r.failed) return;
    const dir = dirname(t.paths.get(t.top as string) as string);
    for (const info of parseInfo(r.stdout)) {
      unheld?.add(info.filename);
      // Only entries in the disk's own directory are its layers; anything else is a foreign backing.
      if (dirname(info.filename) !== dir) break;
      out.set(info.filename, { state: 'read', header: info.header, backing: { kind: 'none' } });
    }
  });
  const rest = targets.flatMap((t) => [...t.paths.values()].filter((p) => !out.has(p)));
  const singles = await exec.runBatch(rest.map((p) => infoArgv(p)));
  rest.forEach((path, i) => {
    const r = singles[i];
    if (!r) return;
    if (r.failed) {
      out.set(
        path,
        isLockError(r.stderr)
          ? { state: 'in-use', error: qemuError(r.stderr) }
          : { state: 'unreadable', error: qemuError(r.stderr) },
      );
      return;
    }
    const [info] = parseInfo(r.stdout);
    if (info) out.set(path, { state: 'read', header: info.header, backing: { kind: 'none' } });
  });
  return out;
}

/** Resolve a header's backing string against this disk's layer names. */
export function resolveBacking(
  header: LayerHeader,
  parse: (name: string) => { disk: string; ref: LayerRef } | undefined,
  disk: string,
): BackingLink {
  const name = header.backingName;
  if (name === undefined || name === '') return { kind: 'none' };
  if (header.backingFormat !== 'qcow2') {
    return {
      kind: 'invalid',
      name,
      problem: header.backingFormat
        ? `backing format is ${header.backingFormat}, not qcow2`
        : 'no backing format is recorded',
    };
  }
  if (name.includes('/'))
    return { kind: 'invalid', name, problem: 'expected the relative name of a layer in the same directory' };
  const parsed = parse(name);
  if (!parsed || parsed.disk !== disk) return { kind: 'invalid', name, problem: 'not a layer of this disk' };
  if (parsed.ref.role === 'trash') return { kind: 'invalid', name, problem: 'a layer being removed' };
  return { kind: 'layer', ref: parsed.ref };
}

/** How a storage names its layers, for reading their headers. */
export interface HeaderSite {
  path(disk: string, ref: LayerRef): string;
  parseName(name: string, known: ReadonlySet<string>): { disk: string; ref: LayerRef } | undefined;
}

/** Read the headers of the disks' `wanted` layers, each backing resolved against the disk's names. */
export async function fillHeaders(
  exec: Executor,
  disks: readonly ObservedDisk[],
  site: HeaderSite,
  wanted: (layer: ObservedLayer) => boolean,
  unheld?: Set<string>,
): Promise<void> {
  const targets = disks.map((d) => {
    const layers = d.layers.filter(wanted);
    const paths = new Map(layers.map((l) => [l.name, site.path(d.name, l.ref)]));
    const top = layers.find((l) => l.ref.role === 'top')?.name;
    return top ? { paths, top } : { paths };
  });
  const headers = await readHeaders(exec, targets, unheld);
  for (const d of disks) {
    for (const l of d.layers) {
      if (!wanted(l)) continue;
      const h = headers.get(site.path(d.name, l.ref));
      if (!h) continue;
      l.header =
        h.state === 'read'
          ? { ...h, backing: resolveBacking(h.header, (n) => site.parseName(n, new Set([d.name])), d.name) }
          : h;
    }
  }
}
