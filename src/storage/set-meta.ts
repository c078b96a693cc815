import type { StorageStep } from './driver.js';

/** How a metadata step reads in the plan, by why it writes (the same on every storage kind). */
export function setMetaVerb(purpose: Extract<StorageStep, { kind: 'set_meta' }>['purpose']): string {
  switch (purpose) {
    case 'record_intent':
      return 'record intent on';
    case 'finish':
      return 'finish metadata of';
    case 'update':
      return 'update metadata of';
  }
}
