/**
 * `qemu-img map` of layers, each run at most once per run while its image is unchanged: a plan
 * maps both layers of every merge it costs, and a directory stream maps them again, just before
 * it copies, to know what to copy. Where the storage can tell that an image is unchanged since
 * (ImageSite.version: a file's identity), the earlier result is used; elsewhere every map runs.
 */
import type { CommandResult } from '../../exec/executor.js';
import type { ImageSite } from '../engine.js';
import { mapArgv } from './qemu-img-argv.js';

/** Per site (one storage driver, for one run): each path's last map and its version then. */
const kept = new WeakMap<ImageSite, Map<string, { version: string; result: CommandResult }>>();

export async function readMaps(site: ImageSite, paths: readonly string[]): Promise<CommandResult[]> {
  const cache = kept.get(site) ?? new Map<string, { version: string; result: CommandResult }>();
  kept.set(site, cache);
  // Taken before the map runs: a change while it runs leaves a version that no longer matches.
  const versions = await Promise.all(paths.map((p) => site.version?.(p)));
  const out = paths.map((p, i) => {
    const k = cache.get(p);
    return k !== undefined && k.version === versions[i] ? k.result : undefined;
  });
  const todo = paths.flatMap((p, i) => (out[i] === undefined ? [{ p, i }] : []));
  const results = await site.exec.runBatch(todo.map(({ p }) => mapArgv(site.protocol, p)));
  todo.forEach(({ p, i }, k) => {
    const r = results[k] as CommandResult;
    out[i] = r;
    const version = versions[i];
    if (!r.failed && version !== undefined) cache.set(p, { version, result: r });
  });
  return out as CommandResult[];
}
