/**
 * A storage driver lays layers out on one storage kind (DESIGN §10): names, observation,
 * allocate, extend, rename, remove, wipe, metadata, activation, in-use checks, dependants and
 * where the lock lives. What is inside a layer is the image engine's business; the driver tells
 * it where the layers are (path, name, protocol). It makes no decisions.
 */
import type { Executor } from '../exec/executor.js';
import type { LayerRef } from '../model/layer.js';
import type { ObservedDisk, ObservedLayer, ObservedStorage } from '../model/observed.js';
import type { PlannedStep, Step } from '../model/plan.js';
import type { MergeSample } from '../model/merge-history.js';

export interface ObserveRequest {
  /** Disks the config declares on this storage: names are parsed against them. */
  disks: string[];
}

export type StorageStep = Extract<
  Step,
  { kind: 'set_meta' | 'allocate' | 'wipe' | 'extend' | 'rename' | 'remove' | 'create_vg' }
>;

export interface StorageDriver {
  readonly kind: 'lvm' | 'dir';
  readonly storage: string;
  /** For messages: a path, or "vg_san1 on pve1". */
  readonly location: string;
  /** Runs this storage's commands, the image engine's included. */
  readonly exec: Executor;
  /** qemu-img's protocol driver for one layer opened alone. */
  readonly protocol: 'file' | 'host_device';
  /** The path a layer is opened at. */
  path(disk: string, ref: LayerRef): string;
  /** A layer's name: shown in messages, and written as the relative backing reference. */
  name(disk: string, ref: LayerRef): string;
  /** Whether an image engine can read this layer now (plan never activates anything). */
  readable(layer: ObservedLayer): boolean;
  /** The cheap first look: names, sizes, metadata; headers only where they cost nothing. */
  observe(request: ObserveRequest): Promise<ObservedStorage>;
  /** Read the qcow2 headers of these disks' active layers, into `observed`. Read-only. */
  readHeaders(observed: ObservedStorage, disks: readonly string[]): Promise<void>;
  /** Find the images outside these disks' chains that use one of their layers as backing. Read-only. */
  readDependants(observed: ObservedStorage, disks: readonly string[]): Promise<void>;
  /** Make a disk's layers readable (activation) and observe it afresh, before changing it. */
  prepareDisk(disk: string, declared: readonly string[]): Promise<ObservedDisk>;
  /**
   * After prepareDisk, when apply is about to merge or remove one of its layers: find the images
   * outside the chain that use a layer as backing, afresh. Read-only.
   */
  readDiskDependants(disk: ObservedDisk): Promise<void>;
  /** Undo what prepareDisk changed. */
  releaseDisk(disk: string): Promise<void>;
  /** Which of these layers another process (a running VM) holds open. */
  layersInUse(disk: ObservedDisk, layers: readonly string[]): Promise<string[]>;
  /** Add these merges (planned bytes, measured time) to the storage's record, for time estimates. */
  recordMerges(samples: readonly MergeSample[]): Promise<void>;
  /** Where this storage's applier lock lives: on the host that runs its commands. */
  lockTarget(): { exec: Executor; path: string };
  describe(disk: string, step: StorageStep): Pick<PlannedStep, 'description' | 'commands'>;
  execute(disk: string, step: StorageStep, onProgress?: (fraction: number) => void): Promise<void>;
}
