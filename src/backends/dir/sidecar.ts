/**
 * The per-disk metadata file. Written atomically (temporary file, fsync, rename, fsync of
 * the directory): after a crash it holds either the old or the new content.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { layerMetaSchema } from '../../model/plan.js';
import type { LayerMeta } from '../../model/meta.js';
import { sidecarName } from './layout.js';

const sidecarSchema = z.strictObject({
  format: z.literal(1),
  disk: z.string(),
  layers: z.record(z.string(), layerMetaSchema),
});

export type Sidecar = z.infer<typeof sidecarSchema>;

export async function readSidecar(dir: string, disk: string): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, sidecarName(disk)), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseSidecar(text);
}

export function parseSidecar(text: string): Sidecar {
  return sidecarSchema.parse(JSON.parse(text));
}

export async function writeSidecar(dir: string, sidecar: Sidecar): Promise<void> {
  const path = join(dir, sidecarName(sidecar.disk));
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(`${JSON.stringify(sidecar, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Read-modify-write of one disk's sidecar. */
export async function updateSidecar(
  dir: string,
  disk: string,
  change: (layers: Record<string, LayerMeta>) => void,
): Promise<void> {
  const current = (await readSidecar(dir, disk)) ?? { format: 1 as const, disk, layers: {} };
  const layers = { ...current.layers };
  change(layers);
  await writeSidecar(dir, { format: 1, disk, layers });
}
