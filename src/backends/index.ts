import type { Backend } from './backend.js';
import type { DesiredStorage } from '../model/desired.js';
import type { Executor } from '../exec/executor.js';
import { DirBackend } from './dir/index.js';
import { LvchainError } from '../errors.js';

export function createBackend(storage: DesiredStorage, exec: Executor): Backend {
  switch (storage.kind) {
    case 'dir':
      return new DirBackend(storage, exec);
    case 'lvm':
      throw new LvchainError(
        'usage',
        `volume group ${storage.name}: the LVM backend is not available in this build`,
      );
  }
}
