/** Work that outlives lvchain on purpose: started, not waited for, not tied to lvchain's end. */
import { spawn } from 'node:child_process';

/**
 * Starts `argv` on this machine in its own session, with no stdio, and does not wait for it.
 * Only for work whose loss is harmless and is redone by a later run (freeing a trashed file's
 * blocks): a failure to start is therefore ignored rather than reported.
 */
export function startDetached(argv: readonly string[]): void {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const child = spawn(file, args, {
    detached: true,
    stdio: 'ignore',
    env: { LC_ALL: 'C', PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
  });
  child.on('error', () => undefined);
  child.unref();
}
