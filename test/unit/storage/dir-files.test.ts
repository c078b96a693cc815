/** Files lvchain writes and reads on a directory storage never follow a planted link (DESIGN §9). */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomically } from '../../../src/exec/atomic-file.js';
import { readSidecar } from '../../../src/storage/dir/sidecar.js';
import { acquireLock } from '../../../src/apply/lock.js';
import { LocalExecutor } from '../../../src/exec/local.js';
import { LvchainError } from '../../../src/base/errors.js';

const DISK = 'vm-100-disk-0';
const dirs: string[] = [];
afterEach(async () => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))));

async function scratch(): Promise<{ dir: string; victim: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'lvchain-dirfiles-'));
  dirs.push(dir);
  const victim = join(dir, 'victim');
  await writeFile(victim, 'victim\n');
  return { dir, victim };
}

async function drift(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(LvchainError);
  expect((e as LvchainError).code).toBe('drift');
  return (e as LvchainError).message;
}

describe('atomic replacement', () => {
  it('replaces a link at the final name instead of writing through it', async () => {
    const { dir, victim } = await scratch();
    const path = join(dir, 'file.json');
    await symlink(victim, path);
    await writeFileAtomically(path, 'new\n');
    expect(await readFile(victim, 'utf8')).toBe('victim\n');
    expect(await readFile(path, 'utf8')).toBe('new\n');
    await expect(readlink(path)).rejects.toThrow(/EINVAL/);
  });

  it('uses an unguessable temporary name and leaves none behind', async () => {
    const { dir, victim } = await scratch();
    const path = join(dir, 'file.json');
    await symlink(victim, `${path}.tmp-${process.pid}`);
    await writeFileAtomically(path, 'new\n');
    expect(await readFile(victim, 'utf8')).toBe('victim\n');
    expect((await readdir(dir)).sort()).toEqual(['file.json', `file.json.tmp-${process.pid}`, 'victim']);
  });
});

describe('reading a sidecar', () => {
  it('a link is refused, naming the file', async () => {
    const { dir, victim } = await scratch();
    await symlink(victim, join(dir, `${DISK}.lvchain.json`));
    expect(await drift(readSidecar(dir, DISK))).toBe(
      `the sidecar ${join(dir, `${DISK}.lvchain.json`)} is a symbolic link; lvchain does not follow links on a storage`,
    );
  });

  it('a FIFO is refused at once, not read', async () => {
    const { dir } = await scratch();
    await execa('mkfifo', [join(dir, `${DISK}.lvchain.json`)]);
    expect(await drift(readSidecar(dir, DISK))).toMatch(/is not a regular file$/);
  });

  it('bad JSON and a schema error are one readable line naming the file', async () => {
    const { dir } = await scratch();
    const path = join(dir, `${DISK}.lvchain.json`);
    await writeFile(path, '{"format": 1,');
    expect(await drift(readSidecar(dir, DISK))).toMatch(
      new RegExp(`^the sidecar ${path} is not valid JSON \\(.+\\)$`),
    );
    await writeFile(path, JSON.stringify({ format: 2, disk: DISK, layers: { a: { snap: 1 } } }));
    const message = await drift(readSidecar(dir, DISK));
    expect(message).toMatch(
      new RegExp(`^the sidecar ${path} is not an lvchain sidecar: format: .+; layers\\.a\\.`),
    );
    expect(message).not.toContain('\n');
  });
});

describe('the storage lock', () => {
  for (const which of ['lock', 'info'] as const) {
    it(`refuses a link at the ${which} path, a dangling one included, and creates nothing`, async () => {
      const { dir } = await scratch();
      const lock = join(dir, '.lvchain.lock');
      const target = join(dir, 'created-through-link');
      await symlink(target, which === 'lock' ? lock : `${lock}.info`);
      const exec = new LocalExecutor();
      try {
        const e = await acquireLock({ exec, path: lock, operation: 'apply', info: '', timeoutMs: 0 }).then(
          () => undefined,
          (x: unknown) => x as LvchainError,
        );
        expect(e?.message).toContain(`${which === 'lock' ? lock : `${lock}.info`} is a symbolic link`);
        await expect(readFile(target)).rejects.toThrow(/ENOENT/);
      } finally {
        await exec.close();
      }
    });
  }
});
