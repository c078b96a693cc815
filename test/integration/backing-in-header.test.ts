/**
 * The directory driver's search for linked clones reads a qcow2 header's backing name itself
 * (src/storage/dir/dependants.ts); it must name the file qemu-img's `full-backing-filename` names,
 * and hand every header it does not plainly understand to qemu-img.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backingInHeader } from '../../src/storage/dir/dependants.js';
import { requireTool } from '../helpers/tools.js';

let dir: string;
beforeAll(async () => {
  requireTool('qemu-img', 'qemu-utils');
  dir = await mkdtemp(join(tmpdir(), 'lvchain-backing-header-'));
  await mkdir(join(dir, '901'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function image(name: string, backing?: string, options: string[] = []): Promise<string> {
  const path = join(dir, name);
  const b = backing === undefined ? [] : ['-u', '-F', 'qcow2', '-b', backing];
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...options, ...b, path, '4M']);
  return path;
}

async function qemuImgSays(path: string): Promise<string | undefined> {
  const r = await execa('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', path]);
  return (JSON.parse(r.stdout) as { 'full-backing-filename'?: string })['full-backing-filename'];
}

describe('a backing name read from the header', () => {
  const cases: [string, string | undefined, string[]][] = [
    ['none.qcow2', undefined, []],
    ['beside.qcow2', 'snap-s1-vm-900-disk-0.qcow2', []],
    ['901/up.qcow2', '../900/base-900-disk-0.qcow2', []],
    ['absolute.qcow2', '/var/lib/vz/images/900/base-900-disk-0.qcow2', []],
    ['protocol.qcow2', 'nbd://127.0.0.1:10809/export', []],
    ['colon-after-slash.qcow2', 'sub/odd:name.qcow2', []],
    ['json.qcow2', 'json:{"driver":"qcow2","file":{"driver":"file","filename":"/x/y.qcow2"}}', []],
    ['v2.qcow2', 'beside-v2.qcow2', ['-o', 'compat=0.10']],
  ];
  for (const [name, backing, options] of cases)
    it(`names what qemu-img names: ${backing ?? 'no backing'}${options.length ? ' (qcow2 v2)' : ''}`, async () => {
      const path = await image(name, backing, options);
      const look = await backingInHeader(path);
      expect(look).toEqual({ kind: 'qcow2', backing: await qemuImgSays(path) });
    });

  it('skips what is not qcow2, and a link, without opening what it names', async () => {
    await writeFile(join(dir, 'raw.img'), Buffer.alloc(4096));
    expect(await backingInHeader(join(dir, 'raw.img'))).toEqual({ kind: 'not qcow2' });
    await symlink(join(dir, 'beside.qcow2'), join(dir, 'link.qcow2'));
    expect(await backingInHeader(join(dir, 'link.qcow2'))).toEqual({ kind: 'not qcow2' });
  });

  it('leaves a header with an implausible backing name to qemu-img', async () => {
    const path = await image('long.qcow2', 'x.qcow2');
    // A name length past qemu's 1023-byte limit, as a hostile file might claim.
    const fh = await open(path, 'r+');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(4096);
    await fh.write(len, 0, 4, 16);
    await fh.close();
    expect(await backingInHeader(path)).toEqual({ kind: 'ask qemu-img' });
    const short = await image('short.qcow2');
    const trunc = await open(short, 'r+');
    await trunc.truncate(12);
    await trunc.close();
    expect(await backingInHeader(short)).toEqual({ kind: 'ask qemu-img' });
  });
});
