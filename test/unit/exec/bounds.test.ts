/** DESIGN §9: header commands are bounded, data moves are not; a hang ends as a clear error. */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundOf } from '../../../src/exec/bounds.js';
import { LocalExecutor } from '../../../src/exec/local.js';

const dirs: string[] = [];
afterEach(async () => {
  delete process.env['LVCHAIN_HEADER_TIMEOUT'];
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('time bounds of qemu-img commands', () => {
  it('bounds header reads and writes, not data moves', () => {
    for (const sub of ['info', 'map', 'measure', 'check', 'create', 'resize', 'amend'])
      expect(boundOf(['qemu-img', sub, 'x.qcow2']), sub).toBe(60_000);
    expect(boundOf(['qemu-img', 'rebase', '-u', '-b', 'a', 'x.qcow2'])).toBe(60_000);
    expect(boundOf(['qemu-img', 'rebase', '-p', '-b', 'a', 'x.qcow2'])).toBeUndefined();
    expect(boundOf(['qemu-img', 'commit', '-p', 'x.qcow2'])).toBeUndefined();
    expect(boundOf(['qemu-img', 'convert', 'a', 'b'])).toBeUndefined();
    expect(boundOf(['lvs'])).toBeUndefined();
  });

  it('LVCHAIN_HEADER_TIMEOUT sets the bound in seconds; nonsense keeps the default', () => {
    process.env['LVCHAIN_HEADER_TIMEOUT'] = '2.5';
    expect(boundOf(['qemu-img', 'info', 'x'])).toBe(2500);
    process.env['LVCHAIN_HEADER_TIMEOUT'] = '-1';
    expect(boundOf(['qemu-img', 'info', 'x'])).toBe(60_000);
  });

  it('qemu-img info on a FIFO ends at the bound with an error naming the file and the bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvchain-bounds-'));
    dirs.push(dir);
    const fifo = join(dir, 'layer.qcow2');
    await execa('mkfifo', [fifo]);
    process.env['LVCHAIN_HEADER_TIMEOUT'] = '1';
    const exec = new LocalExecutor();
    const started = Date.now();
    const [r] = await exec.runBatch([['qemu-img', 'info', '-U', '--output=json', '-f', 'qcow2', fifo]]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r?.failed).toBe(true);
    expect(r?.stderr).toBe(
      `qemu-img info on ${fifo} did not finish within 1 s and was stopped (a FIFO, a device or a hung mount in its way?)\n`,
    );
    await exec.close();
  });
});
