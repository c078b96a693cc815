/**
 * A backend translates storage operations into commands and command output into
 * observations (DESIGN §10). It makes no decisions.
 */
import type { ObservedDisk, ObservedStorage } from '../model/observed.js';
import type { Step } from '../model/plan.js';
import type { Executor } from '../exec/executor.js';

export interface ObserveRequest {
  /** Disks the config declares on this storage: names are parsed against them. */
  disks: string[];
}

export interface StepDescription {
  description: string;
  /** argv arrays the step runs; empty for in-process metadata writes. */
  commands: string[][];
}

export interface Backend {
  readonly kind: 'lvm' | 'dir';
  readonly storage: string;
  /** For messages: a path, or "vg_san1 on pve1". */
  readonly location: string;
  /** The cheap first look: names, sizes, metadata; headers only where they cost nothing. */
  observe(request: ObserveRequest): Promise<ObservedStorage>;
  /** Read the qcow2 headers of these disks' active layers, into `observed`. Read-only. */
  readHeaders(observed: ObservedStorage, disks: readonly string[]): Promise<void>;
  /** Find the images outside these disks' chains that use one of their layers as backing. Read-only. */
  readDependants(observed: ObservedStorage, disks: readonly string[]): Promise<void>;
  /** `qemu-img measure` these virtual sizes, into `observed.measurements`. */
  measure(observed: ObservedStorage, sizes: readonly number[]): Promise<void>;
  /** Read the allocation of these layers (disk → layer names), for merge costs. Read-only. */
  readExtents(observed: ObservedStorage, layers: Readonly<Record<string, readonly string[]>>): Promise<void>;
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
  /** Where this storage's applier lock lives: on the host that runs its commands. */
  lockTarget(): { exec: Executor; path: string };
  describe(disk: string, step: Step): StepDescription;
  execute(disk: string, step: Step, onProgress?: (fraction: number) => void): Promise<void>;
}

/** Parses qemu-img's `-p` progress, "    (42.00/100%)", into a fraction. */
export function progressParser(
  onProgress: ((fraction: number) => void) | undefined,
): ((chunk: string) => void) | undefined {
  if (!onProgress) return undefined;
  let last = -1;
  return (chunk: string) => {
    const matches = [...chunk.matchAll(/\(\s*([\d.]+)\/100%\)/g)];
    const m = matches[matches.length - 1];
    if (!m) return;
    const f = Number(m[1]) / 100;
    if (f !== last) {
      last = f;
      onProgress(f);
    }
  };
}
