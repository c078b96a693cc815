/**
 * Every layer reads its data back through snapshots, merges in both directions, a grow and
 * rollbacks, on the directory backend.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { existsSync } from 'node:fs';
import { DirLab } from '../helpers/dirlab.js';
import { viewDigest, writePattern, writeZeroes } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { integrityScenario, type ChainDriver } from '../scenarios/integrity.js';

const DISK = 'vm-700-disk-0';

describe('data integrity on the directory backend', () => {
  let lab: DirLab;
  let driver: ChainDriver;

  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
    lab = await DirLab.create();
    const path = (layer: string) => (layer === 'top' ? lab.top(DISK) : lab.snap(DISK, layer));
    driver = {
      disk: DISK,
      writeConfig: (sizeMiB, snapshots) =>
        lab.writeConfig({ [DISK]: { size: `${sizeMiB}MiB`, snapshots: [...snapshots] } }),
      run: (args) => lab.run(args),
      write: (o, l, p) => writePattern(lab.top(DISK), o, l, p),
      zero: (o, l) => writeZeroes(lab.top(DISK), o, l),
      viewDigest: (layer) => viewDigest(path(layer)),
      layerExists: async (layer) => existsSync(path(layer)),
    };
  });
  afterAll(async () => lab?.dispose());

  integrityScenario(() => driver);
});
