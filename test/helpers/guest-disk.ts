/**
 * The test guest's data disks seen from the host: put an ext4 file system on a qcow2 image
 * before boot, and read a view back (raw export, `fsck.ext4 -n`, the writer's records via
 * `debugfs`). Record format: test/guest/README.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const RECORD_SIZE = 64;
const RECORD = /^LVW1 (\d{10}) (\d{2}) (\d{12}) (\d{30});\n$/;

export interface DiskRecords {
  /** Number of whole records in the file. */
  count: number;
  /** Sequence numbers found, in file order (a valid file holds 1..count). */
  seqs: number[];
  /** Guest uptime (ms) at which each record was written, in file order. */
  writtenMs: number[];
  /** True when record p (0-based) is seq p+1 for this disk with its fill, and nothing trails. */
  prefix: boolean;
  /** What is wrong, one line per bad record or trailing bytes. */
  problems: string[];
}

/** Parses a disk's `records` file; `disk` is its index in the writer's order. */
export function parseRecords(data: Buffer, disk: number): DiskRecords {
  const count = Math.floor(data.length / RECORD_SIZE);
  const out: DiskRecords = { count, seqs: [], writtenMs: [], prefix: true, problems: [] };
  for (let p = 0; p < count; p++) {
    const text = data.subarray(p * RECORD_SIZE, (p + 1) * RECORD_SIZE).toString('latin1');
    const m = RECORD.exec(text);
    const seq = Number(m?.[1]);
    out.seqs.push(m ? seq : NaN);
    out.writtenMs.push(m ? Number(m[3]) : NaN);
    const want = String(p + 1).padStart(10, '0');
    if (!m || seq !== p + 1 || Number(m[2]) !== disk || m[4] !== want.repeat(3)) {
      out.prefix = false;
      out.problems.push(`record ${p + 1} of disk ${disk} reads ${JSON.stringify(text)}`);
    }
  }
  if (data.length % RECORD_SIZE !== 0) {
    out.prefix = false;
    const rest = data.subarray(count * RECORD_SIZE).toString('latin1');
    out.problems.push(`disk ${disk}: ${JSON.stringify(rest)} trails record ${count}`);
  }
  return out;
}

/**
 * Whether the disks' record counts are one cut of the writer's global order (record k on
 * disk 0, 1, ... before k+1): each disk holds the same count or, after some point, one
 * fewer. Disks switched at different instants break this as soon as the writer runs between.
 */
export function consistentCut(counts: number[]): { ok: boolean; cut: number } {
  const first = counts[0] ?? 0;
  let ok = true;
  for (let i = 1; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > counts[i - 1]! || c < first - 1) ok = false;
  }
  return { ok, cut: Math.min(...counts) };
}

async function run(cmd: string, args: string[], pkg: string): Promise<{ stdout: string; exitCode: number }> {
  const r = await execa(cmd, args, { reject: false, all: true });
  if (r.failed && r.exitCode === undefined)
    throw new Error(`${cmd} could not run (Debian package ${pkg}): ${r.message}`);
  return { stdout: r.all ?? '', exitCode: r.exitCode ?? -1 };
}

/**
 * Writes a fresh ext4 file system over everything `image` (qcow2) shows, keeping its header
 * and backing file: for an lvchain-created top as much as for a plain qemu-img image.
 */
export async function formatExt4(image: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-ext4-'));
  try {
    const info = await run('qemu-img', ['info', '--output=json', image], 'qemu-utils');
    if (info.exitCode !== 0) throw new Error(`qemu-img info ${image}: ${info.stdout}`);
    const size = (JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'];
    const raw = join(dir, 'fs.raw');
    await run('truncate', ['-s', String(size), raw], 'coreutils');
    // No lazy init: the guest kernel would otherwise zero inode tables in the background.
    const mk = await run(
      'mkfs.ext4',
      ['-F', '-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', raw],
      'e2fsprogs',
    );
    if (mk.exitCode !== 0) throw new Error(`mkfs.ext4 failed: ${mk.stdout}`);
    const cv = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'qcow2', raw, image], 'qemu-utils');
    if (cv.exitCode !== 0) throw new Error(`qemu-img convert into ${image} failed: ${cv.stdout}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface DiskView {
  /** `fsck.ext4 -n -f` exit code (0: clean) and output. */
  fsck: { exitCode: number; output: string };
  records: DiskRecords;
}

/**
 * Reads what `image` shows through its chain (`-U`: also while QEMU holds it; the guest's
 * freeze flushed it): fsck on a raw export, then the records file out of it.
 */
export async function inspectView(image: string, disk: number): Promise<DiskView> {
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-view-'));
  try {
    const raw = join(dir, 'view.raw');
    const cv = await run('qemu-img', ['convert', '-U', '-O', 'raw', image, raw], 'qemu-utils');
    if (cv.exitCode !== 0) throw new Error(`qemu-img convert ${image} failed: ${cv.stdout}`);
    const fsck = await run('fsck.ext4', ['-n', '-f', raw], 'e2fsprogs');
    const cat = await execa('debugfs', ['-R', 'cat /records', raw], {
      encoding: 'buffer',
      reject: false,
      stripFinalNewline: false,
    });
    if (cat.exitCode !== 0) throw new Error(`debugfs on ${image} failed: ${cat.stderr.toString()}`);
    return {
      fsck: { exitCode: fsck.exitCode, output: fsck.stdout },
      records: parseRecords(Buffer.from(cat.stdout), disk),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
