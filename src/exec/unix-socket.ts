/**
 * A unix socket on the host that runs a storage's commands (a VM's QMP or guest-agent socket).
 * Locally it is a plain connection. Over ssh it is relayed by `socat` on that host: OpenSSH's
 * stream-local forwarding would need AllowStreamLocalForwarding on every node and a local
 * socket file per connection, while socat is on every Proxmox VE host already (pve-manager
 * depends on it) and the relay dies with the ssh session.
 */
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { LvchainError } from '../base/errors.js';

/** Why a socket could not be opened, as errno-like codes both transports share. */
export type SocketFault = 'ENOENT' | 'ECONNREFUSED' | 'EACCES' | 'ETIMEDOUT' | 'ERELAY';

export class SocketError extends Error {
  constructor(
    readonly code: SocketFault | string,
    message: string,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

export function connectLocal(path: string, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SocketError('ETIMEDOUT', `no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new SocketError(e.code ?? 'EIO', e.message));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Characters socat's address syntax gives a meaning to; a path with one cannot be relayed. */
const SOCAT_SPECIAL = /[,:!"'\\\s{}[\]()]/;

/** The relay run on the remote host: stdin/stdout joined to the socket. */
export function relayArgv(path: string): string[] {
  if (SOCAT_SPECIAL.test(path))
    throw new LvchainError(
      'config_invalid',
      `the socket path ${JSON.stringify(path)} holds a character socat's address syntax reserves (, : ! quotes, backslash, brackets or white space), so lvchain cannot reach it over ssh; use a plain path`,
      { details: { socket: path } },
    );
  return ['socat', '-', `UNIX-CONNECT:${path}`];
}

/** The relay's end, read from its exit code and socat's own error line. */
export function relayFault(exitCode: number, stderr: string, host: string): SocketError {
  const last = stderr.trim().split('\n').pop() ?? '';
  if (exitCode === 0) return new SocketError('EIO', 'the socket was closed at the other end');
  if (exitCode === 127 && /not found/.test(stderr))
    return new SocketError(
      'ERELAY',
      `socat is not installed on ${host}; lvchain reaches a QMP or guest-agent socket over ssh through it (Debian package socat; Proxmox VE hosts have it)`,
    );
  if (/No such file or directory/.test(last)) return new SocketError('ENOENT', last);
  if (/Connection refused/.test(last)) return new SocketError('ECONNREFUSED', last);
  if (/Permission denied/.test(last)) return new SocketError('EACCES', last);
  return new SocketError('EIO', last || `the relay on ${host} ended with exit code ${exitCode}`);
}
