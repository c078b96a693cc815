/** The per-disk metadata file, replaced atomically: after a crash it holds the old or the new content. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../atomic-file.js';
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
  await writeFileAtomically(join(dir, sidecarName(sidecar.disk)), `${JSON.stringify(sidecar, null, 2)}\n`);
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
