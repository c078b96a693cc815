import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalExecutor } from '../../../src/exec/local.js';
import type { CommandEvent } from '../../../src/exec/executor.js';

describe('a batch command bound to a directory, on this machine', () => {
  it('runs only where the directory is, and a skipped one fails with no output and no process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvchain-guard-'));
    const events: CommandEvent[] = [];
    const exec = new LocalExecutor([(e) => events.push(e)]);
    try {
      const marker = join(dir, 'ran');
      const [skipped, ran] = await exec.runBatch([
        { argv: ['touch', marker], ifDirectory: join(dir, 'absent') },
        { argv: ['printf', '%s', 'here'], ifDirectory: dir },
      ]);
      expect(skipped).toMatchObject({ exitCode: 1, failed: true, stdout: '', stderr: '' });
      expect(existsSync(marker)).toBe(false);
      expect(ran).toMatchObject({ exitCode: 0, stdout: 'here' });
      expect(events.map((e) => e.argv[0])).toEqual(['printf']);
    } finally {
      await exec.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
