/**
 * A strict reader of the Prometheus text exposition format, version 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats, "Text format details"), written from the
 * spec because the npm parsers are lenient: they accept unterminated label values and any value
 * token. It throws on the first violation, naming the line:
 * - lines end with a line feed, the last one too; empty lines are ignored;
 * - `# HELP name text` (escapes `\\` and `\n` only) and `# TYPE name type` (counter, gauge,
 *   histogram, summary, untyped), at most one of each per metric, before its first sample;
 *   any other `#` line is a comment;
 * - samples: `name{label="value",...} value [timestamp]`, metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`,
 *   label names `[a-zA-Z_][a-zA-Z0-9_]*` (not `__`-prefixed, no duplicates), label values with the
 *   escapes `\\`, `\"` and `\n` only, values Go floats (`NaN`, `+Inf`, `-Inf`), timestamps
 *   int64 milliseconds;
 * - all lines of a metric family form one group, and no name and label set repeats.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  help?: string;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_START = /[a-zA-Z_]/;
const LABEL_NAME_CHAR = /[a-zA-Z0-9_]/;
const METRIC_NAME_CHAR = /[a-zA-Z0-9_:]/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT =
  /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$/;
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

export class ExpositionError extends Error {}

interface FamilyState extends MetricFamily {
  declared: { help: boolean; type: boolean };
}

export function parseExposition(text: string): MetricFamily[] {
  if (text.length > 0 && !text.endsWith('\n'))
    throw new ExpositionError('the last line does not end with a line feed');
  const lines = text.split('\n');
  lines.pop();
  const families = new Map<string, FamilyState>();
  const done = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;

  const fail = (n: number, why: string): never => {
    throw new ExpositionError(`line ${n}: ${why}: ${JSON.stringify(lines[n - 1])}`);
  };
  const enter = (n: number, name: string): FamilyState => {
    if (current !== name) {
      if (done.has(name)) fail(n, `the lines of metric ${name} are not one group`);
      if (current !== undefined) done.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [], declared: { help: false, type: false } };
      families.set(name, f);
    }
    return f;
  };

  lines.forEach((line, i) => {
    const n = i + 1;
    if (line === '') return;
    const comment = /^[ \t]*#(.*)$/.exec(line);
    if (comment) {
      const m = /^[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]([\s\S]*))?$/.exec(comment[1] as string);
      if (!m) return;
      const [, keyword, name, rest = ''] = m as unknown as [string, 'HELP' | 'TYPE', string, string?];
      if (!METRIC_NAME.test(name)) fail(n, `invalid metric name ${name}`);
      const f = enter(n, name);
      if (f.samples.length > 0) fail(n, `${keyword} of ${name} after its samples`);
      if (keyword === 'HELP') {
        if (f.declared.help) fail(n, `second HELP for ${name}`);
        f.declared.help = true;
        f.help = unescape(rest, ['\\', 'n'], (why) => fail(n, why));
      } else {
        if (f.declared.type) fail(n, `second TYPE for ${name}`);
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type) || /\s/.test(rest.replace(/[ \t]+$/, ''))) fail(n, `invalid type "${rest}"`);
        f.declared.type = true;
        f.type = type;
      }
      return;
    }
    const s = parseSample(line, (why) => fail(n, why));
    let family = s.name;
    const cur = current !== undefined ? families.get(current) : undefined;
    if (cur && cur.name !== s.name) {
      const suffix = (SUFFIXES[cur.type] ?? []).find((x) => s.name === cur.name + x);
      if (suffix) family = cur.name;
    }
    const f = enter(n, family);
    if (f.type === 'histogram' && s.name === f.name) fail(n, `a histogram has no sample named ${s.name}`);
    const key = `${s.name}{${Object.entries(s.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seen.has(key)) fail(n, `duplicate sample ${key}`);
    seen.add(key);
    f.samples.push(s);
  });
  return [...families.values()].map(({ declared: _declared, ...f }) => f);
}

function unescape(text: string, allowed: readonly string[], fail: (why: string) => never): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === undefined || !allowed.includes(next)) fail(`invalid escape sequence \\${next ?? ''}`);
    out += next === 'n' ? '\n' : next;
  }
  return out;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  let i = 0;
  const blanks = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  blanks();
  const start = i;
  if (!/[a-zA-Z_:]/.test(line[i] ?? '')) fail('a sample must start with a metric name');
  while (METRIC_NAME_CHAR.test(line[i] ?? '')) i++;
  const name = line.slice(start, i);
  const labels: Record<string, string> = {};
  const afterName = i;
  blanks();
  if (line[i] !== '{') i = afterName;
  else {
    i++;
    for (;;) {
      blanks();
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (!LABEL_NAME_START.test(line[i] ?? '')) fail('invalid label name');
      while (LABEL_NAME_CHAR.test(line[i] ?? '')) i++;
      const label = line.slice(ls, i);
      if (label.startsWith('__')) fail(`reserved label name ${label}`);
      if (label in labels) fail(`duplicate label ${label}`);
      blanks();
      if (line[i] !== '=') fail(`expected = after label ${label}`);
      i++;
      blanks();
      if (line[i] !== '"') fail(`expected " to open the value of label ${label}`);
      i++;
      let raw = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) fail(`unterminated value of label ${label}`);
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[i + 1] ?? '');
          i += 2;
          continue;
        }
        raw += c;
        i++;
      }
      i++;
      labels[label] = unescape(raw, ['\\', '"', 'n'], fail);
      blanks();
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      fail(`expected , or } after label ${label}`);
    }
  }
  const rest = line.slice(i);
  const m = /^[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$/.exec(rest);
  if (!m) fail('expected a value after the metric name and labels');
  const [, valueText, tsText] = m as RegExpExecArray;
  if (!FLOAT.test(valueText as string)) fail(`invalid value ${valueText}`);
  const value = /nan/i.test(valueText as string)
    ? Number.NaN
    : /inf/i.test(valueText as string)
      ? (valueText as string).startsWith('-')
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY
      : Number(valueText);
  const sample: Sample = { name, labels, value };
  if (tsText !== undefined) {
    if (!/^-?\d+$/.test(tsText) || !Number.isSafeInteger(Number(tsText))) fail(`invalid timestamp ${tsText}`);
    sample.timestamp = Number(tsText);
  }
  return sample;
}
