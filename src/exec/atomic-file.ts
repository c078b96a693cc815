/**
 * Files replaced whole: temporary file, fsync, rename, fsync of the directory. After a crash
 * a reader finds either the old or the new content, never a mix.
 *
 * The directories written to may be shared with other users (an NFS-backed storage): the
 * temporary name is random and the file is created with O_EXCL|O_NOFOLLOW, so a link planted
 * under a guessed name is never written through (DESIGN §9 "Untrusted inputs"). rename()
 * replaces a link at the final name instead of following it.
 */
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

/** open(2) flags for a file lvchain creates: never an existing one, never through a link. */
export const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(12).toString('hex')}`;
  const fh = await open(tmp, CREATE_NEW, 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
