/**
 * The engine selector: which image engine may change a disk, from who holds its layers open.
 * Today only the offline engine exists and it cannot act on an image another process holds, so
 * a held disk is refused, naming the holders; a QMP engine for the declared VM's QEMU would be
 * chosen here. The planner reads the verdict from the observed disk; apply asks again after it
 * re-observes the disk.
 */
import type { EngineVerdict, ObservedDisk } from '../model/observed.js';
import { layersHeldOpen } from '../model/observed.js';
import { offlineEngine } from './offline/index.js';

export function selectEngine(held: readonly string[]): EngineVerdict {
  if (held.length === 0 || offlineEngine.actsOnImagesInUse)
    return { kind: 'engine', engine: offlineEngine.name };
  return { kind: 'refused', holders: [...held] };
}

/** Stamp each disk with the selector's verdict, from the layers observation saw held open. */
export function selectEngines(disks: Iterable<ObservedDisk>): void {
  for (const d of disks) {
    d.engine = selectEngine(layersHeldOpen(d));
  }
}
