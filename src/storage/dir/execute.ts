/** Running the directory storage steps in-process: sidecar first, so every file has its metadata. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '../../exec/atomic-file.js';
import { LvchainError } from '../../base/errors.js';
import type { LayerRef } from '../../model/layer.js';
import type { StorageStep } from '../driver.js';
import { exists, kindOf, notRegular } from './entries.js';
import { diskDir, imagesDir, layerFileName } from './layout.js';
import { readSidecar, updateSidecar } from './sidecar.js';
import { discardFile } from './trash.js';

export async function executeDirStep(root: string, disk: string, step: StorageStep): Promise<void> {
  const dir = diskDir(root, disk);
  const name = (ref: LayerRef) => layerFileName(disk, ref);
  switch (step.kind) {
    case 'set_meta':
      await updateSidecar(dir, disk, (layers) => {
        layers[name(step.layer)] = step.meta;
      });
      return;
    case 'allocate': {
      await mkdir(dir, { recursive: true });
      // mkdir succeeds on a link to a directory: the file below must not land through one.
      for (const d of [imagesDir(root), dir]) {
        const kind = await kindOf(d);
        if (kind !== undefined && kind !== 'directory') throw new LvchainError('drift', notRegular(d, kind));
      }
      await updateSidecar(dir, disk, (layers) => {
        layers[name(step.layer)] = step.meta;
      });
      await writeFile(join(dir, name(step.layer)), '', { flag: 'wx' });
      await fsyncDir(dir);
      return;
    }
    case 'wipe':
    case 'extend':
    case 'create_vg':
      return;
    case 'rename': {
      const from = join(dir, name(step.from));
      const to = join(dir, name(step.to));
      if (await exists(to))
        throw new LvchainError('drift', `cannot rename ${name(step.from)}: ${name(step.to)} already exists`);
      const meta = (await readSidecar(dir, disk))?.layers[name(step.from)];
      // Metadata first under both names, then the file, then drop the old name: at every
      // instant the file's current name has its metadata.
      if (meta) await updateSidecar(dir, disk, (layers) => void (layers[name(step.to)] = meta));
      await rename(from, to);
      await fsyncDir(dir);
      await updateSidecar(dir, disk, (layers) => void delete layers[name(step.from)]);
      return;
    }
    case 'remove': {
      await discardFile(root, join(dir, name(step.layer)));
      await fsyncDir(dir);
      await updateSidecar(dir, disk, (layers) => void delete layers[name(step.layer)]);
      return;
    }
  }
}
