import type { Backend } from './backend.js';
import type { DesiredStorage } from '../model/desired.js';
import type { Executor } from '../exec/executor.js';
import { DirBackend } from './dir/index.js';
import { LvmBackend } from './lvm/index.js';

export function createBackend(storage: DesiredStorage, exec: Executor): Backend {
  switch (storage.kind) {
    case 'dir':
      return new DirBackend(storage, exec);
    case 'lvm':
      return new LvmBackend(storage, exec);
  }
}
