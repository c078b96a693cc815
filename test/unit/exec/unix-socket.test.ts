/**
 * Reaching a VM's socket: socat's own failures (run for real here, as the relay runs on a
 * storage host) become the causes an admin can act on, and a local connection fails the same way.
 */
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { relayArgv, relayFault, SocketError } from '../../../src/exec/unix-socket.js';
import { JsonLines } from '../../../src/exec/json-lines.js';
import { LocalExecutor } from '../../../src/exec/local.js';
import { isLvchainError } from '../../../src/base/errors.js';
import { requireTool } from '../../helpers/tools.js';

let dir: string;
beforeAll(() => requireTool('socat', 'socat'));
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function relay(path: string): Promise<SocketError> {
  const r = await execa(relayArgv(path)[0] as string, relayArgv(path).slice(1), { reject: false, input: '' });
  return relayFault(r.exitCode ?? -1, String(r.stderr), 'pve1');
}

/** A socket file nobody listens on any more: its listener was killed, as a crashed QEMU's is. */
async function deadSocket(): Promise<string> {
  const path = join(dir, 'left.sock');
  const child = execa('socat', [`UNIX-LISTEN:${path}`, '-'], { reject: false });
  for (let i = 0; i < 100; i++) {
    if ((await execa('test', ['-S', path], { reject: false })).exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await child;
  return path;
}

describe('the socat relay', () => {
  it('reads a missing socket and a socket nobody listens on from socat itself', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvchain-sock-'));
    expect((await relay(join(dir, 'none.sock'))).code).toBe('ENOENT');
    expect((await relay(await deadSocket())).code).toBe('ECONNREFUSED');
  });

  it('relays what the socket says, both ways', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvchain-sock-'));
    const path = join(dir, 'echo.sock');
    const server = createServer((c) => c.pipe(c));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const r = await execa(relayArgv(path)[0] as string, relayArgv(path).slice(1), { input: 'ping\n' });
      expect(r.stdout).toBe('ping');
    } finally {
      server.close();
    }
  });

  it('refuses a path that socat would read as address options', () => {
    for (const p of ['/run/a,b.qmp', '/run/a:b.qmp', '/run/a b.qmp', '/run/a!!b']) {
      expect(() => relayArgv(p)).toThrow(/socat's address syntax reserves/);
    }
    expect(relayArgv('/var/run/qemu-server/101.qmp')).toEqual([
      'socat',
      '-',
      'UNIX-CONNECT:/var/run/qemu-server/101.qmp',
    ]);
  });

  it('names socat as missing when the remote shell cannot find it', async () => {
    // What ssh runs on a host without socat: the login shell's own "not found".
    const argv = relayArgv('/run/x.qmp');
    const r = await execa('/bin/sh', ['-c', argv.join(' ')], {
      reject: false,
      env: { PATH: '/nonexistent' },
    });
    const fault = relayFault(r.exitCode ?? -1, String(r.stderr), 'root@pve1');
    expect(fault.code).toBe('ERELAY');
    expect(fault.message).toContain('socat is not installed on root@pve1');
  });
});

describe('a local socket', () => {
  it('that is missing is reported in the words of the protocol that wanted it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvchain-sock-'));
    const path = join(dir, 'qmp.sock');
    const e = await JsonLines.open(new LocalExecutor(), path, 'QMP socket', 2000).catch((x: unknown) => x);
    expect(isLvchainError(e) && e.code).toBe('vm_unreachable');
    expect(String((e as Error).message)).toBe(
      `cannot connect to the QMP socket at ${path}: no such socket (is the VM running, and is this the path in its -qmp / -chardev option?)`,
    );
  });
});
