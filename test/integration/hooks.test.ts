/**
 * A policy's snapshot hooks (issue 12 point 10): run once around a guest's snapshot on the
 * storage's host, told the guest, disks and snapshot; a failing or hanging pre-hook skips the
 * snapshot with a non-zero exit, and the post-hook still runs to undo what the pre-hook did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, writeFile, chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../helpers/dirlab.js';
import { hookedGuest } from '../helpers/configs.js';

const DISKS = ['vm-861-disk-0', 'vm-861-disk-1'];
let lab: DirLab;

afterEach(async () => {
  await lab.dispose();
});

/** A hook script that logs its name, environment and what it finds on the storage, then does `tail`. */
async function hook(name: string, tail: string): Promise<string> {
  const path = join(lab.root, `${name}.sh`);
  await writeFile(
    path,
    `#!/bin/sh\nprintf '%s %s|%s|%s|%s|%s files=%s\\n' ${name} "$LVCHAIN_GUEST" "$LVCHAIN_DISKS" "$LVCHAIN_SNAPSHOT" "$LVCHAIN_STORAGE" "$LVCHAIN_POLICY" "$(ls ${lab.diskDir(DISKS[0] as string)} | grep -c '^snap-.*qcow2$')" >> ${join(lab.root, 'hooks.log')}\n${tail}\n`,
  );
  await chmod(path, 0o755);
  return path;
}

async function config(pre: string, post: string, timeout = '5s'): Promise<void> {
  await lab.writeRawConfig({
    version: 1,
    directories: { lab: { path: './store' } },
    ...hookedGuest({ storage: 'lab', disks: DISKS, size: '8MiB', pre, post, timeout }),
  });
}

const log = () => readFile(join(lab.root, 'hooks.log'), 'utf8').catch(() => '');
const snapshots = async () =>
  (await readdir(lab.diskDir(DISKS[0] as string))).filter((f) => /^snap-.*\.qcow2$/.test(f)).length;
const HOUR = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();

describe('snapshot hooks', () => {
  it('run once around the guest snapshot, before and after it, told what it is; the plan shows them', async () => {
    lab = await DirLab.create('lvchain-hooks-');
    await config(await hook('pre', 'exit 0'), await hook('post', 'exit 0'));
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const plan = await lab.run(['plan', '--now', iso(now)]);
    expect(plan.stdout).toContain('pre-snapshot hook (once for the snapshot, 5 s at most):');
    expect(plan.stdout).toContain(`$ ${join(lab.root, 'post.sh')} --thaw`);
    const r = await lab.run(['apply', '--auto-approve', '--now', iso(now)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const snap = `auto-${iso(now).slice(0, 16).replace(/[-:]/g, '')}Z`;
    // The pre-hook saw no snapshot yet, the post-hook saw both disks' (they share a directory) on the storage.
    expect((await log()).trim().split('\n')).toEqual([
      `pre db|${DISKS.join(' ')}|${snap}|lab|db files=0`,
      `post db|${DISKS.join(' ')}|${snap}|lab|db files=2`,
    ]);
  });

  it('a failing pre-hook skips the snapshot and exits non-zero; the post-hook still runs', async () => {
    lab = await DirLab.create('lvchain-hooks-');
    await config(await hook('pre', 'echo database busy >&2; exit 3'), await hook('post', 'exit 0'));
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const r = await lab.run(['apply', '--auto-approve', '--now', iso(now)]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /the pre-snapshot hook .*pre\.sh on local exited with 3: database busy; the snapshot is skipped/,
    );
    expect(await snapshots()).toBe(0);
    expect(
      (await log())
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
    ).toEqual(['pre', 'post']);
  });

  it('a pre-hook that outlives its timeout is stopped, and the snapshot is skipped', async () => {
    lab = await DirLab.create('lvchain-hooks-');
    await config(await hook('pre', 'sleep 30'), await hook('post', 'exit 0'), '1s');
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const started = Date.now();
    const r = await lab.run(['apply', '--auto-approve', '--now', iso(now)]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /pre\.sh on local did not finish within 1 s and was stopped; the snapshot is skipped/,
    );
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(await snapshots()).toBe(0);
  });

  it('says where a hook is written wrong', async () => {
    lab = await DirLab.create('lvchain-hooks-');
    await lab.writeRawConfig({
      version: 1,
      directories: { lab: { path: './store' } },
      policies: { db: { timezone: 'UTC', hooks: { preSnapshot: 'db-freeze --wait' } } },
    });
    const r = await lab.run(['validate']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/policies\.db\.hooks\.preSnapshot.*a command as a list of words/);
  });
});
