/**
 * The directory stream's copy runs as qemu-io aio_reads, and qemu-io exits 0 when one of them
 * fails. A copy-on-read write made to fail (blkdebug injects ENOSPC) must fail the copy, so the
 * backing switch that follows it never runs on a child that lacks part of the data.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { copyIntoChild } from '../../src/engines/offline/split-stream.js';
import { mapArgv } from '../../src/engines/offline/qemu-img-argv.js';
import { LocalExecutor } from '../../src/exec/local.js';
import { writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';

const MiB = 1024 * 1024;
let dir: string;

beforeAll(() => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('split stream copy', () => {
  it('fails when a copy-on-read write fails, though qemu-io exits 0', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvchain-cor-fail-'));
    const from = join(dir, 'from.qcow2');
    const layer = join(dir, 'layer.qcow2');
    const o = ['-o', 'extended_l2=on,cluster_size=128k'];
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...o, from, '64M']);
    await writePattern(from, 0, 48 * MiB, 0x5a);
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...o, '-F', 'qcow2', '-b', from, layer, '64M']);
    const failing = JSON.stringify({
      driver: 'qcow2',
      file: {
        driver: 'blkdebug',
        'inject-error': [{ event: 'write_aio', errno: 28, once: true }],
        image: { driver: 'file', filename: layer },
      },
    });
    const exec = new LocalExecutor();
    const maps = (ps: readonly string[]) => exec.runBatch(ps.map((p) => mapArgv('file', p)));
    const copy = copyIntoChild(
      exec,
      maps,
      { layer, from },
      ['qemu-io', '-C', '-t', 'writeback', `json:${failing}`],
      'test stream',
    );
    await expect(copy).rejects.toThrow(
      /qemu-io reported \d+ of 50331648 bytes copied; the backing is not switched.*No space left on device/,
    );
  });
});
