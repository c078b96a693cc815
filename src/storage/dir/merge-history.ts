/**
 * A directory storage's merge record: `<root>/.lvchain.merges`, one line in the format of the
 * LVM tag, replaced atomically. It is read like any file in a storage (DESIGN §9): no link is
 * followed, no FIFO can stall the read, and anything else than lvchain's format is not used.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../exec/atomic-file.js';
import type { MergeHistory, MergeSample } from '../../model/merge-history.js';
import { decodeSamples, encodeSamples, withSamples } from '../../model/merge-history.js';

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** The longest record lvchain writes is far below this. */
const MAX_BYTES = 1024;

export function mergeHistoryPath(root: string): string {
  return join(root, '.lvchain.merges');
}

export async function readMergeHistory(root: string): Promise<MergeHistory> {
  const path = mergeHistoryPath(root);
  let text: string;
  try {
    const fh = await open(path, READ_FLAGS);
    try {
      const st = await fh.stat();
      if (!st.isFile()) return unusable(path, 'not a regular file');
      if (st.size > MAX_BYTES) return unusable(path, `${st.size} bytes long`);
      const buf = Buffer.alloc(MAX_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { samples: [] };
    if (code === 'ELOOP') return unusable(path, 'a symbolic link');
    return unusable(path, (e as Error).message);
  }
  const samples = decodeSamples(text.trim());
  return samples ? { samples } : unusable(path, 'not a record lvchain writes');
}

function unusable(path: string, why: string): MergeHistory {
  return { samples: [], problem: `${path} is ${why}` };
}

/** Add merges to the record; one that is not lvchain's is replaced. */
export async function recordDirMerges(root: string, samples: readonly MergeSample[]): Promise<void> {
  const old = await readMergeHistory(root);
  await writeFileAtomically(mergeHistoryPath(root), `${encodeSamples(withSamples(old.samples, samples))}\n`);
}
