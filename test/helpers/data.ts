/**
 * Data integrity checks by reading data back (not by trusting what lvchain reports):
 * write known patterns with qemu-io, then checksum what each layer's view reads.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** Write `length` bytes of `pattern` at `offset` through qemu-io (the whole chain, as a guest would). */
export async function writePattern(
  image: string,
  offset: number,
  length: number,
  pattern: number,
): Promise<void> {
  await execa('qemu-io', [
    '-f',
    'qcow2',
    '-c',
    `write -P 0x${pattern.toString(16).padStart(2, '0')} ${offset} ${length}`,
    image,
  ]);
}

/** Write zeroes (zero clusters) at an offset. */
export async function writeZeroes(image: string, offset: number, length: number): Promise<void> {
  await execa('qemu-io', ['-f', 'qcow2', '-c', `write -z ${offset} ${length}`, image]);
}

/** sha256 of everything the image shows (through its backing chain), via qemu-img convert -O raw. */
export async function viewDigest(image: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-view-'));
  try {
    const raw = join(dir, 'view.raw');
    await execa('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', image, raw]);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(raw)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The expected view: a zero-filled disk with the writes applied in order, as sha256. */
export class ExpectedDisk {
  private buf: Buffer;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  write(offset: number, length: number, pattern: number): void {
    this.buf.fill(pattern, offset, offset + length);
  }

  grow(size: number): void {
    const next = Buffer.alloc(size);
    this.buf.copy(next);
    this.buf = next;
  }

  clone(): ExpectedDisk {
    const c = new ExpectedDisk(0);
    c.buf = Buffer.from(this.buf);
    return c;
  }

  /** Hex digest of the whole view; sha256 unless another algorithm is named (e.g. md5 in the lab VM). */
  digest(algorithm = 'sha256'): string {
    return createHash(algorithm).update(this.buf).digest('hex');
  }
}

/**
 * Open an image read-write in a background qemu-io, which takes qemu's image locks as a running
 * VM does (the top for writing, its backing files shared for reading); resolves once the kernel
 * lists a lock on the image's inode. Looking does not lock: a probe that took qemu's locks
 * itself (qemu-img info) could make qemu-io's own open fail and leave nothing held. Call
 * release() in a finally block.
 */
export async function holdOpen(image: string): Promise<{ release: () => Promise<void> }> {
  const { ino } = await stat(image);
  const child = execa('qemu-io', ['-f', 'qcow2', image], { stdin: 'pipe', reject: false });
  let exited = false;
  void child.finally(() => {
    exited = true;
  });
  const release = async () => {
    child.kill();
    await child;
  };
  // /proc/locks: "1: OFDLCK ADVISORY READ -1 08:01:<inode> 100 100"; the inode is decimal.
  const locked = async () =>
    (await readFile('/proc/locks', 'utf8'))
      .split('\n')
      .some((line) =>
        line.split(/\s+/).some((f) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(f) && f.endsWith(`:${ino}`)),
      );
  // A deadline, not a count of tries: on a loaded 2-core machine qemu-io has taken over 5 s to start.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !exited) {
    if (await locked()) return { release };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const ended = exited ? await child : undefined;
  await release();
  throw new Error(
    ended
      ? `qemu-io exited (${String(ended.exitCode)}) before it locked ${image}: ${String(ended.stderr)}`
      : `${image} never became locked within 60 s`,
  );
}
