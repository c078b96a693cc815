import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execaSync } from 'execa';
import { newBatch, parseBatch } from '../../../src/exec/batch.js';
import { shellQuote } from '../../../src/base/quote.js';

/** Runs the batch script in the local dash, exactly as ssh hands it to the remote shell. */
function runLocally(commands: string[][], sshNoise = ''): { nonce: string; stdout: Buffer; stderr: Buffer } {
  const batch = newBatch();
  const r = execaSync(
    batch.shellArgv[0] as string,
    [...batch.shellArgv.slice(1), ...commands.map((argv) => argv.map(shellQuote).join(' '))],
    { encoding: 'buffer', reject: false, stripFinalNewline: false },
  );
  return {
    nonce: batch.nonce,
    stdout: Buffer.from(r.stdout as Uint8Array),
    stderr: Buffer.concat([Buffer.from(sshNoise), Buffer.from(r.stderr as Uint8Array)]),
  };
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'));

describe('batch framing', () => {
  it('gives every command back its exact stdout, stderr and exit code (dash, as on Debian)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ out: text, err: text, rc: fc.integer({ min: 0, max: 125 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.constantFrom('', 'Warning: Permanently added [127.0.0.1]:2222 to the list of known hosts.\n'),
        (cmds, noise) => {
          const { nonce, stdout, stderr } = runLocally(
            cmds.map((c) => [
              'sh',
              '-c',
              'printf %s "$1"; printf %s "$2" >&2; exit "$3"',
              'cmd',
              c.out,
              c.err,
              String(c.rc),
            ]),
            noise,
          );
          expect(parseBatch(nonce, stdout, stderr)).toEqual(
            cmds.map((c) => ({ exitCode: c.rc, stdout: c.out, stderr: c.err })),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps trailing newlines and output that looks like a marker of another batch', () => {
    const { nonce: other } = newBatch();
    const { nonce, stdout, stderr } = runLocally([
      ['printf', '%s', 'a\n\n'],
      ['printf', '%s', `\n${other} 0\n`],
      ['printf', ''],
    ]);
    expect(parseBatch(nonce, stdout, stderr).map((f) => f.stdout)).toEqual(['a\n\n', `\n${other} 0\n`, '']);
  });

  it('returns fewer frames when the shell dies part-way, so the caller can tell', () => {
    const { nonce, stdout, stderr } = runLocally([
      ['echo', 'one'],
      ['sh', '-c', 'kill -KILL "$PPID"'],
      ['echo', 'three'],
    ]);
    const frames = parseBatch(nonce, stdout, stderr);
    expect(frames.map((f) => f.stdout)).toEqual(['one\n']);
  });
});
