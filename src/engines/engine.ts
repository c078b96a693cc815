/**
 * An image engine changes the qcow2 contents of layers that a storage driver has laid out
 * (DESIGN §10): format, resize, commit, stream, and the reads that size and cost them. One
 * engine per runtime; `offline` (qemu-img) is the only one today.
 */
import type { Executor } from '../exec/executor.js';
import type { DesiredStorage } from '../model/desired.js';
import type { LayerRef } from '../model/layer.js';
import type { Measurement, ObservedLayer } from '../model/observed.js';
import type { PlannedStep, Step } from '../model/plan.js';

export type StorageKind = DesiredStorage['kind'];

/** What a step runs and how it is shown, as saved in the plan. */
export type StepDescription = Pick<PlannedStep, 'description' | 'commands'>;

export type EngineStep = Extract<Step, { kind: 'format' | 'resize' | 'commit' | 'stream' }>;

/** Where an engine finds one disk's layers: the storage driver answers. */
export interface ImageSite {
  readonly kind: StorageKind;
  readonly exec: Executor;
  /** The path the engine opens. */
  path(disk: string, ref: LayerRef): string;
  /** The name a layer is known by: in messages, and as the relative backing reference. */
  name(disk: string, ref: LayerRef): string;
  /** qemu-img's protocol driver for one layer alone. */
  readonly protocol: 'file' | 'host_device';
  /**
   * A token that differs once the image at `path` has changed (a file's identity), so a read
   * made earlier in the run can be used again; absent where the storage cannot tell (an LV).
   */
  version?(path: string): Promise<string | undefined>;
}

export interface ImageEngine {
  readonly name: 'offline';
  /** Whether it can change an image another process (a running VM) holds open. */
  readonly actsOnImagesInUse: boolean;
  measure(exec: Executor, sizes: readonly number[]): Promise<Record<number, Measurement>>;
  /** Read the allocation of these layers into them; a layer that cannot be read is left as is. */
  readExtents(site: ImageSite, layers: readonly { disk: string; layer: ObservedLayer }[]): Promise<void>;
  describe(site: ImageSite, disk: string, step: EngineStep): StepDescription;
  execute(
    site: ImageSite,
    disk: string,
    step: EngineStep,
    onProgress?: (fraction: number) => void,
  ): Promise<void>;
}
