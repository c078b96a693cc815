/**
 * The stream on directory storage, split in two so it can copy through the page cache and still
 * survive a kill (see CACHE_MODES): qemu-io reads, with copy-on-read, every range the snapshot
 * allocates and the child does not, while the child is still backed by the snapshot; its last
 * command flushes (fdatasync). Only then does `qemu-img rebase -u` switch the backing. A kill
 * before the switch leaves the child backed by the snapshot, whose view it shows unchanged, and
 * the step runs again; a kill after it finds the data durable.
 */
import type { CommandResult, Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';
import { subtract, total, type Ranges } from '../../base/ranges.js';
import { allocated, STREAM_WINDOW_BYTES, windowed } from '../../model/extents.js';
import { mapEnd, parseLayerMap } from '../../observe/qemu.js';

/**
 * Bytes per read. Each read is one synchronous copy-on-read request; 8 MiB keeps the requests
 * large (measured: 2 MiB requests were slower) and the progress frequent.
 */
const READ_BYTES = 8 * 1024 * 1024;

/**
 * Reads start and end on cluster boundaries: QEMU before 8.1 copies on read in whole clusters and
 * aborts (iov_from_buf_full assertion) on a read that starts inside a cluster the image has
 * partly written (measured with 7.2). lvchain's layers have 128 KiB clusters, Proxmox's 64 KiB;
 * a layer with larger clusters makes qemu-io abort before anything is switched. The plan counts
 * these windows in what a stream copies (model/extents.ts).
 */
export function clusterAligned(ranges: Ranges, size: number): Ranges {
  return windowed(ranges, { bytes: STREAM_WINDOW_BYTES, virtualSize: size });
}

/**
 * A flush after every GiB read: the copy's L2 updates live in qemu-io until a flush, so a kill
 * would otherwise throw away all of its progress, not just the last GiB.
 */
const FLUSH_BYTES = 1024 * 1024 * 1024;

/** The qemu-io script (on its stdin) that reads `reads` with copy-on-read, then flushes. */
export function copyScript(reads: Ranges): string {
  const lines: string[] = [];
  let unflushed = 0;
  for (const [start, end] of reads)
    for (let at = start; at < end; at += READ_BYTES) {
      const n = Math.min(READ_BYTES, end - at);
      lines.push(`read ${at} ${n}`);
      unflushed += n;
      if (unflushed >= FLUSH_BYTES) {
        lines.push('flush');
        unflushed = 0;
      }
    }
  // qemu-io flushes on close too, but ignores a failure there; this command fails the run.
  if (lines.at(-1) !== 'flush') lines.push('flush');
  return `${lines.join('\n')}\n`;
}

/** Progress from qemu-io's "read N/N bytes at offset X" lines, as a fraction of `total`. */
export function readProgress(
  totalBytes: number,
  onProgress: ((fraction: number) => void) | undefined,
): ((chunk: string) => void) | undefined {
  if (!onProgress || totalBytes === 0) return undefined;
  let done = 0;
  let pending = '';
  return (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    const before = done;
    for (const line of lines) {
      const m = /read (\d+)\/\d+ bytes at offset \d+/.exec(line);
      if (m) done += Number(m[1]);
    }
    if (done !== before) onProgress(Math.min(1, done / totalBytes));
  };
}

/**
 * Copies what `from` holds and `layer` does not shadow into `layer`, durably. The backing switch
 * is the caller's next command.
 */
export async function copyIntoChild(
  exec: Executor,
  readMaps: (paths: readonly string[]) => Promise<CommandResult[]>,
  paths: { layer: string; from: string },
  copyArgv: string[],
  what: string,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const [fromMap, layerMap] = await readMaps([paths.from, paths.layer]);
  const from = parseLayerMap(ok(fromMap as NonNullable<typeof fromMap>, what).stdout);
  const layerOut = ok(layerMap as NonNullable<typeof layerMap>, what).stdout;
  const layer = parseLayerMap(layerOut);
  const reads = clusterAligned(subtract(allocated(from), allocated(layer)), mapEnd(layerOut));
  if (reads.length === 0) return;
  ok(
    await exec.run(copyArgv, {
      input: copyScript(reads),
      onStdout: readProgress(total(reads), onProgress),
      ownConnection: true,
    }),
    what,
  );
}
