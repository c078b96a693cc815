import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execaSync } from 'execa';
import { displayArgv, shellCommand, shellQuote } from '../../../src/base/quote.js';

describe('shellQuote, the one function that makes argv a shell string', () => {
  it('leaves plain words alone and quotes everything else', () => {
    expect(shellQuote('vm-401-disk-0.qcow2')).toBe('vm-401-disk-0.qcow2');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('a b;$(x)')).toBe("'a b;$(x)'");
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('a local POSIX shell reads every argument back literally (dash, as on Debian)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'binary', minLength: 0, maxLength: 12 }).filter((s) => !s.includes('\0')),
          { minLength: 1, maxLength: 5 },
        ),
        (args) => {
          const script = `for a in ${args.map(shellQuote).join(' ')}; do printf '%s\\0' "$a"; done`;
          const out = execaSync('sh', ['-c', script], { encoding: 'utf8', stripFinalNewline: false }).stdout;
          expect(out.split('\0').slice(0, -1)).toEqual(args);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('renders commands for plans unambiguously', () => {
    expect(shellCommand(['lvrename', 'vg', 'a b', "c'd"])).toBe(`lvrename vg 'a b' 'c'\\''d'`);
    expect(displayArgv(['qemu-img', 'rebase', '-b', ''])).toBe(`qemu-img rebase -b ''`);
  });
});
