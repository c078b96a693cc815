/** The per-disk metadata file, replaced atomically: after a crash it holds the old or the new content. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../exec/atomic-file.js';
import { z } from 'zod';
import { layerMetaSchema } from '../../model/plan.js';
import type { LayerMeta } from '../../model/meta.js';
import { LvchainError } from '../../base/errors.js';
import { sidecarName } from './layout.js';

const sidecarSchema = z.strictObject({
  format: z.literal(1),
  disk: z.string(),
  layers: z.record(z.string(), layerMetaSchema),
});

export type Sidecar = z.infer<typeof sidecarSchema>;

// A link is never followed, and O_NONBLOCK keeps a FIFO planted under the name from hanging the
// open; the fstat below then refuses it (DESIGN §9 "Untrusted inputs").
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The sidecar of a disk, undefined when there is none. A sidecar that cannot be trusted (a
 * link, not a regular file, not JSON, not lvchain's schema) is a `drift` error that names the
 * file: observation makes it drift of that disk alone.
 */
export async function readSidecar(dir: string, disk: string): Promise<Sidecar | undefined> {
  const path = join(dir, sidecarName(disk));
  let text: string;
  try {
    const fh = await open(path, READ_FLAGS);
    try {
      if (!(await fh.stat()).isFile()) throw badSidecar(path, 'not a regular file');
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw badSidecar(path, 'a symbolic link; lvchain does not follow links on a storage');
    throw e;
  }
  return parseSidecar(text, path);
}

export function parseSidecar(text: string, path: string): Sidecar {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badSidecar(path, `not valid JSON (${(e as Error).message})`);
  }
  const parsed = sidecarSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`,
    );
    throw badSidecar(
      path,
      `not an lvchain sidecar: ${issues.slice(0, 3).join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`,
    );
  }
  return parsed.data;
}

function badSidecar(path: string, why: string): LvchainError {
  return new LvchainError('drift', `the sidecar ${path} is ${why}`, { details: { sidecar: path } });
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
