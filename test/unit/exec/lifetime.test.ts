/**
 * Local children and the terminal's signals, on real processes: what
 * lvchain runs does not die of a Ctrl-C meant for lvchain, and lvchain can still end it.
 */
import { describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../../src/exec/local.js';
import { stopChildren } from '../../../src/exec/lifetime.js';
import { isLvchainError } from '../../../src/base/errors.js';

describe('children of the local executor', () => {
  it('ignore SIGINT, as a terminal sends it to the whole process group', async () => {
    const exec = new LocalExecutor();
    const r = await exec.run(['sh', '-c', 'kill -INT $$; echo still running']);
    expect(r.stdout).toBe('still running\n');
    expect(r.exitCode).toBe(0);
  });

  it('still die of SIGTERM (timeouts and kills reach the program itself)', async () => {
    const exec = new LocalExecutor();
    const r = await exec.run(['sh', '-c', 'kill -TERM $$; echo still running']);
    expect(r.stdout).toBe('');
    expect(r.failed).toBe(true);
  });

  it('are ended by stopChildren, which lvchain calls before it exits at once', async () => {
    const exec = new LocalExecutor();
    const started = performance.now();
    const running = exec.run(['sleep', '30']);
    await new Promise((r) => setTimeout(r, 200));
    expect(stopChildren()).toBe(1);
    const r = await running;
    expect(r.failed).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    // Nothing is left to end once they are gone.
    expect(stopChildren()).toBe(0);
  });

  it('a program that is not installed is named with its package, whatever PATH holds', async () => {
    const exec = new LocalExecutor();
    const e = await exec.run(['qemu-img-not-here', 'info']).catch((x: unknown) => x);
    expect(isLvchainError(e) && e.code).toBe('tool_missing');
    expect(String((e as Error).message)).toBe('qemu-img-not-here is not installed on this machine');
    const q = await exec.run(['/nonexistent/qemu-img', 'info']).catch((x: unknown) => x);
    expect((q as Error).message).toBe(
      '/nonexistent/qemu-img is not installed on this machine (Debian package qemu-utils)',
    );
  });

  it('a program that fails with exit 127 on its own is not mistaken for a missing one', async () => {
    const exec = new LocalExecutor();
    const r = await exec.run(['sh', '-c', 'echo "x: not found" >&2; exit 127']);
    expect(r.exitCode).toBe(127);
    expect(r.failed).toBe(true);
  });
});
