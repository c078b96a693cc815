/** Names from the storage reach terminals and PR comments inert. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { termLines, termText } from '../../../src/render/escape.js';
import { fence, mdCode, mdText, row } from '../../../src/render/md.js';
import { renderDiagnostic } from '../../../src/render/text.js';
import { makeStyle } from '../../../src/render/style.js';

/** What a terminal acts on, or what reorders or breaks a line. */
function hasControl(s: string): boolean {
  return [...s].some((c) => {
    const n = c.codePointAt(0) ?? 0;
    const within = (lo: number, hi: number) => n >= lo && n <= hi;
    return n < 0x20 || within(0x7f, 0x9f) || within(0x2028, 0x202e) || within(0x2066, 0x2069);
  });
}

/** A GitHub mention: `@` then a login character. */
const MENTION = /@[A-Za-z0-9]/;

/** Names with a bias towards the characters that matter here. */
const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '\x1b',
      '[',
      '2',
      'J',
      '\n',
      '\r',
      '\t',
      '\x9b',
      '\u202e',
      '\u2028',
      '@',
      '<',
      '>',
      '|',
      '`',
      'a',
      ' ',
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('termText', () => {
  it('shows control characters as \\xNN and leaves printable text alone', () => {
    expect(termText('snap-\x1b[2J\nfake-@ops.qcow2')).toBe('snap-\\x1b[2J\\x0afake-@ops.qcow2');
    expect(termText('\x9b31m\u202eevil')).toBe('\\x9b31m\\u202eevil');
    expect(termText('vm-401-disk-0.qcow2 → 2 GiB')).toBe('vm-401-disk-0.qcow2 → 2 GiB');
    expect(termLines('a\x07\nb')).toEqual(['a\\x07', 'b']);
  });

  it('never lets a control character through, whatever the name', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        expect(hasControl(termText(s))).toBe(false);
        for (const l of termLines(s)) expect(hasControl(l)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a diagnostic inside its frame: a newline in a summary cannot start an unframed line', () => {
    const out = renderDiagnostic(
      {
        severity: 'error',
        summary: 'bad\nPlan: 0 to add, 0 to change, 0 to destroy.\x1b[2J',
        address: 'x\ny',
        detail: 'a\nb',
      },
      makeStyle(false),
      ['first hint', 'second\x07hint'],
    );
    expect(out).toContain('│ a\\x0ab\n│ \n│ first hint\n│ second\\x07hint');
    for (const line of out.split('\n')) expect(line).toMatch(/^[╷│╵]/);
    expect(out).toContain('Error: bad\\x0aPlan: 0 to add');
    expect(out).not.toContain('\x1b');
  });
});

describe('Markdown escaping', () => {
  it('mdText: no control character, no mention, no tag, one line', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const md = mdText(s);
        expect(hasControl(md)).toBe(false);
        expect(md).not.toMatch(MENTION);
        expect(md).not.toMatch(/(^|[^\\])</);
        expect(md).not.toContain('\n');
      }),
      { numRuns: 500 },
    );
    expect(mdText('ping @security-team <b>x</b>')).toBe('ping @\u2060security-team \\<b\\>x\\</b\\>');
  });

  it('mdCode: a span its content cannot end early, on one line, without controls', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const md = mdCode(s);
        expect(hasControl(md)).toBe(false);
        const ticks = /^`+/.exec(md)?.[0] ?? '';
        const inner = md.slice(ticks.length, md.length - ticks.length);
        // A backtick run as long as the delimiter inside would close the span.
        expect(inner.match(/`+/g)?.some((r) => r.length === ticks.length) ?? false).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a table cell holds any name: the row keeps its column count', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const r = row([mdCode(s), mdText(s), 'x']);
        // Unescaped pipes are the cell borders: the 4 of three cells.
        expect(r.match(/(?<!\\)\|/g)).toHaveLength(4);
      }),
      { numRuns: 500 },
    );
  });

  it('a fence body cannot close the fence or carry controls', () => {
    const body = 'snap-\x1b[2J.qcow2\n```\n@all';
    const f = fence('text', body);
    expect(f).toBe('````text\nsnap-\\x1b[2J.qcow2\n```\n@all\n````');
  });
});
