/**
 * Without a terminal, each command that asks first says what it is and which flag answers for
 * it: import and force-unlock are not "apply", and force-unlock's flag is --force.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { execa } from 'execa';
import { DirLab } from '../helpers/dirlab.js';
import { requireTool } from '../helpers/tools.js';
import { acquireLock, probeLock } from '../../src/apply/lock.js';
import { LocalExecutor } from '../../src/exec/local.js';

const labs: DirLab[] = [];
const newLab = async () => {
  const lab = await DirLab.create();
  labs.push(lab);
  return lab;
};

beforeAll(() => requireTool('qemu-img', 'qemu-utils'));
afterEach(async () => Promise.all(labs.splice(0).map((l) => l.dispose())));

describe('approval without a terminal', () => {
  it('import names itself and --auto-approve, and adopts nothing', async () => {
    const lab = await newLab();
    const disk = 'vm-760-disk-0';
    await lab.writeConfig({ [disk]: { size: '8MiB' } });
    await mkdir(lab.diskDir(disk), { recursive: true });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', lab.top(disk), '8M']);
    const images = async () => (await lab.snapshotTree()).filter((l) => l.includes('/images/'));
    const before = await images();
    const r = await lab.run(['import', 'lab', disk]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('import needs approval, and stdin is not a terminal: pass --auto-approve');
    expect(r.stderr).not.toContain('apply');
    expect(await images(), 'no sidecar was written').toEqual(before);
  });

  it('force-unlock names itself and --force, and leaves the lock held', async () => {
    const lab = await newLab();
    await lab.writeConfig({ 'vm-761-disk-0': { size: '8MiB' } });
    await lab.apply();
    const exec = new LocalExecutor();
    const path = `${lab.storePath}/.lvchain.lock`;
    const held = await acquireLock({ exec, path, operation: 'apply', info: 'a test holder', timeoutMs: 0 });
    try {
      const r = await lab.run(['force-unlock', held.info.id]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('force-unlock needs approval, and stdin is not a terminal: pass --force');
      expect(r.stderr).not.toContain('apply');
      expect(await probeLock(exec, path)).toMatchObject({ id: held.info.id });
    } finally {
      await held.release();
      await exec.close();
    }
  });
});
