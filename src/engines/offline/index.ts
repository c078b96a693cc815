/**
 * The offline engine: qemu-img on images nothing else has open. It cannot act on an image a
 * running VM holds, so the selector refuses such disks before it is asked.
 */
import type { Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';
import { describeRef, type LayerRef } from '../../model/layer.js';
import type { Measurement } from '../../model/observed.js';
import { parseLayerMap, parseMeasure } from '../../observe/qemu.js';
import type { EngineStep, ImageEngine, ImageSite, StepDescription } from '../engine.js';
import { progressParser } from './progress.js';
import {
  CACHE_MODES,
  commitArgv,
  copyOnReadArgv,
  createArgv,
  measureArgv,
  resizeArgv,
  streamArgvs,
} from './qemu-img-argv.js';
import { copyIntoChild } from './split-stream.js';
import { readMaps } from './maps.js';
import { rateNote } from '../../base/units.js';
import { isMergeStep } from '../../model/step-kinds.js';

/** `qemu-img measure` of each virtual size, once each. */
export async function measureSizes(
  exec: Executor,
  sizes: readonly number[],
): Promise<Record<number, Measurement>> {
  const unique = [...new Set(sizes)].sort((a, b) => a - b);
  const results = await exec.runBatch(unique.map(measureArgv));
  const out: Record<number, Measurement> = {};
  unique.forEach((size, i) => {
    const r = results[i] as NonNullable<(typeof results)[number]>;
    out[size] = parseMeasure(ok(r, `qemu-img measure ${size} on ${exec.host}`).stdout);
  });
  return out;
}

export const offlineEngine: ImageEngine = {
  name: 'offline',
  actsOnImagesInUse: false,

  measure: measureSizes,

  async readExtents(site, layers): Promise<void> {
    const results = await readMaps(
      site,
      layers.map(({ disk, layer }) => site.path(disk, layer.ref)),
    );
    layers.forEach(({ layer }, i) => {
      const r = results[i];
      if (r && !r.failed) layer.extents = parseLayerMap(r.stdout);
    });
  },

  describe(site: ImageSite, disk: string, step: EngineStep): StepDescription {
    const name = (ref: LayerRef) => site.name(disk, ref);
    const path = (ref: LayerRef) => site.path(disk, ref);
    switch (step.kind) {
      case 'format':
        return {
          description: `format ${name(step.layer)}${step.backing ? ` on ${name(step.backing)}` : ''}`,
          commands: [
            argv(createArgv(path(step.layer), step.virtual_size, step.backing && name(step.backing))),
          ],
        };
      case 'resize':
        return {
          description: `grow ${name(step.layer)} to ${step.virtual_size} bytes`,
          commands: [argv(resizeArgv(path(step.layer), step.virtual_size, step.preallocation))],
        };
      case 'commit':
        return {
          description: `commit ${name(step.layer)} into ${name(step.into)} (${step.bytes} bytes${rateNote(step.rate)})`,
          commands: [argv(commitArgv(site.kind, path(step.layer), path(step.into), step.rate))],
        };
      case 'stream':
        return {
          description: `stream ${name(step.from)} into ${name(step.layer)} (${step.bytes} bytes${step.rate !== undefined ? ', not rate-limited: offline streams have no rate limit' : ''}), new backing ${step.onto ? name(step.onto) : 'none'}`,
          commands: streamArgvs(
            site.kind,
            site.protocol,
            { layer: path(step.layer), from: path(step.from) },
            step.onto ? name(step.onto) : undefined,
          ).map(argv),
        };
    }
  },

  async execute(site, disk, step, onProgress): Promise<void> {
    const what = `${step.kind} of ${describeRef(step.layer)} of ${disk}`;
    // Data moves run long: each on its own connection, so they stop with lvchain.
    const ownConnection = isMergeStep(step);
    let commands = offlineEngine.describe(site, disk, step).commands;
    const mode = CACHE_MODES[site.kind].stream;
    if (step.kind === 'stream' && mode.form === 'split') {
      // The maps and the copy (its ranges, from the maps, go on its stdin) run here; only the
      // backing switch, the last command, is left for the loop, after the copy has flushed.
      const paths = { layer: site.path(disk, step.layer), from: site.path(disk, step.from) };
      const copy = copyOnReadArgv(mode.cache, paths.layer);
      await copyIntoChild(site.exec, (ps) => readMaps(site, ps), paths, copy, what, onProgress);
      commands = commands.slice(-1);
    }
    for (const c of commands) {
      if (c.kind !== 'argv') continue;
      ok(await site.exec.run(c.argv, { onStdout: progressParser(onProgress), ownConnection }), what);
    }
  },
};

function argv(a: string[]): { kind: 'argv'; argv: string[] } {
  return { kind: 'argv', argv: a };
}
