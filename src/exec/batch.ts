/**
 * Several commands in one remote shell, so a plan costs one round trip per storage. Each
 * command's output is followed by a marker line carrying a random nonce and its exit code, on
 * stdout and on stderr. The script uses shell builtins only: on a loaded host every extra
 * process (mktemp, wc, cat) costs as much as a small LVM command.
 */
import { randomBytes } from 'node:crypto';
import type { CommandResult } from './executor.js';

/** `sh -c SCRIPT lvchain-batch NONCE CMD...`, each CMD one shell-quoted command line. */
const SCRIPT = [
  'n=$1',
  'shift',
  // Whatever reaches stderr before this line is ssh's own.
  'printf \'%s\\n\' "$n" >&2',
  'for c in "$@"; do',
  '  eval "$c" </dev/null',
  '  rc=$?',
  '  printf \'\\n%s %d\\n\' "$n" "$rc"',
  '  printf \'\\n%s\\n\' "$n" >&2',
  'done',
].join('\n');

export interface Batch {
  nonce: string;
  /** The argv of the remote shell; the commands go after it, each quoted as one argument. */
  shellArgv: string[];
}

export function newBatch(): Batch {
  const nonce = `lvchain-${randomBytes(16).toString('hex')}`;
  return { nonce, shellArgv: ['sh', '-c', SCRIPT, 'lvchain-batch', nonce] };
}

export interface Frame {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * The frames of a batch's output, in order. Fewer frames than commands means the shell ended
 * early (the connection dropped, or the host killed it); the caller reports that.
 */
export function parseBatch(nonce: string, stdout: Buffer, stderr: Buffer): Frame[] {
  const outs = splitFrames(stdout, nonce, true);
  // The leading part of stderr, before the first marker, is ssh's; it has no frame.
  const start = markerAt(stderr, Buffer.from(`${nonce}\n`));
  const errs = start < 0 ? [] : splitFrames(stderr.subarray(start + nonce.length + 1), nonce, false);
  return outs.map((o, i) => ({
    exitCode: o.exitCode,
    stdout: o.body,
    stderr: errs[i]?.body ?? '',
  }));
}

export function framesToResults(
  frames: readonly Frame[],
  argvs: readonly (readonly string[])[],
  host: string,
  durationMs: number,
): CommandResult[] {
  return frames.map((f, i) => ({
    argv: [...(argvs[i] ?? [])],
    host,
    exitCode: f.exitCode,
    stdout: f.stdout,
    stderr: f.stderr,
    durationMs,
    failed: f.exitCode !== 0,
  }));
}

/** Frames end with "\n<nonce> <rc>\n" (stdout) or "\n<nonce>\n" (stderr); the "\n" is ours. */
function splitFrames(buf: Buffer, nonce: string, withCode: boolean): { body: string; exitCode: number }[] {
  const frames: { body: string; exitCode: number }[] = [];
  const marker = Buffer.from(`\n${nonce}`);
  let pos = 0;
  for (;;) {
    const at = buf.indexOf(marker, pos);
    if (at < 0) return frames;
    const eol = buf.indexOf(0x0a, at + marker.length);
    if (eol < 0) return frames;
    const tail = buf.subarray(at + marker.length, eol).toString('ascii');
    const m = withCode ? /^ (\d+)$/.exec(tail) : tail === '' ? [''] : null;
    if (!m) return frames;
    frames.push({
      body: buf.subarray(pos, at).toString('utf8'),
      exitCode: withCode ? Number(m[1]) : 0,
    });
    pos = eol + 1;
  }
}

/** Where `line` starts at the beginning of a line of `buf`, or -1. */
function markerAt(buf: Buffer, line: Buffer): number {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(line, from);
    if (at <= 0) return at;
    if (buf[at - 1] === 0x0a) return at;
    from = at + 1;
  }
}
