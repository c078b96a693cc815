/** The Markdown helpers: what reaches a PR comment from names and messages stays inert. */
import { describe, expect, it } from 'vitest';
import { details, fence, mdCode, mdText } from '../../src/render/md.js';
import { commentMarker } from '../../src/render/markdown.js';

describe('Markdown helpers', () => {
  it('escapes text that would start markup or HTML', () => {
    expect(mdText('a *b* _c_ <img src=x> | `d` [e](f) #1 ~g~ & h\nnext')).toBe(
      'a \\*b\\* \\_c\\_ \\<img src=x\\> \\| \\`d\\` \\[e\\](f) \\#1 \\~g\\~ \\& h next',
    );
  });

  it('makes code spans and fences that their content cannot close', () => {
    expect(mdCode('disk.vm-1')).toBe('`disk.vm-1`');
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x')).toBe('`` `x ``');
    expect(fence('diff', '+ a')).toBe('```diff\n+ a\n```');
    expect(fence('text', 'x\n```\ny')).toBe('````text\nx\n```\ny\n````');
  });

  it('leaves a blank line after <summary>, which GitHub needs to render Markdown inside', () => {
    expect(details('Diff: 2 changes', 'body')).toBe(
      '<details><summary>Diff: 2 changes</summary>\n\nbody\n\n</details>',
    );
  });

  it('builds a marker that a config path cannot break out of', () => {
    expect(commentMarker('lvchain.yaml')).toBe('<!-- lvchain-plan-comment: lvchain.yaml -->');
    expect(commentMarker('infra/site-a/lvchain.yaml')).toBe(
      '<!-- lvchain-plan-comment: infra/site-a/lvchain.yaml -->',
    );
    const evil = commentMarker('x --> <script> y.yaml');
    expect(evil).toBe('<!-- lvchain-plan-comment: x%20-%2d%3e%20%3cscript%3e%20y.yaml -->');
    expect(evil.slice(4, -3)).not.toMatch(/--|>/);
  });
});
