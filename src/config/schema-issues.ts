/** zod's issues located in the document: value errors at the value, key errors at the key, missing keys at the map. */
import type { Node as YamlNode } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import type { z } from 'zod';
import type { ConfigIssue } from '../base/errors.js';
import { describeValue } from './schema.js';
import { closest } from '../base/names.js';
import type { Locator } from './locator.js';
import type { Segment } from './path.js';
import { formatPath, segments } from './path.js';
import { mapContents, mapNeeds, objectKeys, suggestKey } from './schema-keys.js';

/**
 * All schema issues, located. A missing key is not reported when a misspelt key next to
 * it already says "did you mean" that key (`sise:` for `size:`).
 */
export function schemaIssues(loc: Locator, issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const meant = new Set<string>();
  for (const i of issues) {
    if (i.code !== 'unrecognized_keys') continue;
    const path = segments(i.path);
    const allowed = objectKeys(path)?.keys ?? [];
    for (const k of i.keys) {
      const best = closest(k, allowed);
      if (best !== undefined) meant.add(JSON.stringify([...path, best]));
    }
  }
  const missingButMeant = (i: z.core.$ZodIssue) => {
    const path = segments(i.path);
    const last = path[path.length - 1];
    return (
      last !== undefined &&
      meant.has(JSON.stringify(path)) &&
      loc.pairAt(path.slice(0, -1), last) === undefined
    );
  };
  return issues.filter((i) => !missingButMeant(i)).flatMap((i) => issue(loc, i));
}

/** Point value errors at the value, key errors at the key, missing keys at the map. */
function issue(loc: Locator, i: z.core.$ZodIssue, prefix: Segment[] = []): ConfigIssue[] {
  const path: Segment[] = [...prefix, ...segments(i.path)];
  switch (i.code) {
    case 'unrecognized_keys':
      return i.keys.map((k) => loc.located(path, `unknown key "${k}"${suggestKey(k, path)}`, k));
    case 'invalid_key': {
      const key = String(path[path.length - 1]);
      const inner = i.issues[0]?.message ?? i.message;
      return [loc.located(path.slice(0, -1), `"${key}": ${inner}`, key)];
    }
    case 'invalid_union': {
      // The branch the value's type chose (e.g. the map form of ssh) has the specific issues.
      const chosen = i.errors.filter(
        (branch) => !branch.every((b) => b.code === 'invalid_type' && b.path.length === 0),
      );
      if (chosen.length === 1) return (chosen[0] as z.core.$ZodIssue[]).flatMap((b) => issue(loc, b, path));
      // Between map forms (vm: qmp or proxmox), the keys written say which one was meant.
      const fits = chosen.filter(
        (branch) => !branch.some((b) => b.code === 'unrecognized_keys' && b.path.length === 0),
      );
      if (fits.length === 1) return (fits[0] as z.core.$ZodIssue[]).flatMap((b) => issue(loc, b, path));
      // A key no form knows (a typo) is the mistake, not the choice of form.
      const unknownEverywhere =
        chosen.length > 0
          ? unknownIn(chosen[0] as z.core.$ZodIssue[]).filter((k) =>
              chosen.every((branch) => unknownIn(branch).includes(k)),
            )
          : [];
      if (unknownEverywhere.length > 0)
        return unknownEverywhere.map((k) => loc.located(path, `unknown key "${k}"${suggestKey(k, path)}`, k));
      break;
    }
  }
  const last = path[path.length - 1];
  const parentPath = path.slice(0, -1);
  const parent = loc.follow(parentPath.length === 0 ? loc.doc.contents : loc.nodeAt(parentPath));
  if (last !== undefined && isMap(parent) && !loc.pairAt(parentPath, last)) {
    // A required key that is not there: point at the map that needs it.
    const where = parentPath.length === 0 ? loc.doc.contents : loc.nodeAt(parentPath);
    return [
      {
        location: loc.at(loc.offsetOf((where as YamlNode | null) ?? undefined)),
        path: formatPath(path),
        message:
          path.length === 1 && last === 'version'
            ? '"version" is required; start the file with "version: 1"'
            : `"${String(last)}" is required`,
      },
    ];
  }
  const value = loc.nodeAt(path);
  const target = loc.pointAt(path);
  let message = i.message;
  if (i.code === 'invalid_type' && (i.expected === 'object' || i.expected === 'record')) {
    const input = value === undefined ? undefined : loc.follow(value);
    const empty = input === undefined || (isScalar(input) && input.value === null);
    message = empty
      ? `is empty; ${mapNeeds(path, i.expected)}`
      : `must be a map${mapContents(path, i.expected)}, not ${isSeq(input) ? 'a list' : describeValue(isScalar(input) ? input.value : undefined)}`;
  } else if (loc.isImplicitNull(value)) {
    message = `has no value; ${i.message}`;
  } else if (/^Invalid input: expected (\w+), received (\w+)$/.test(message)) {
    const [, expected] = /^Invalid input: expected (\w+)/.exec(message) ?? [];
    message = `must be ${expected === 'array' ? 'a list' : `a ${expected ?? 'different value'}`}, not ${describeValue(isScalar(value) ? value.value : isSeq(value) ? [] : value ? {} : undefined)}`;
  }
  return [{ location: loc.at(loc.offsetOf(target)), path: formatPath(path), message }];
}

/** The keys a union branch rejected at its own level. */
function unknownIn(branch: readonly z.core.$ZodIssue[]): string[] {
  return branch.flatMap((b) => (b.code === 'unrecognized_keys' && b.path.length === 0 ? b.keys : []));
}
