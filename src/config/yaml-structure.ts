/** Structure the schema cannot see: complex keys, `__proto__`, nesting depth and aliases. */
import type { Node as YamlNode } from 'yaml';
import { isAlias, isCollection, isPair, isScalar, visit } from 'yaml';
import type { ConfigIssue } from '../base/errors.js';
import type { Locator } from './locator.js';
import { formatPath, pathOf } from './path.js';
import { MAX_EXPANDED_VALUES, MAX_NESTING } from './yaml-limits.js';

export function structureIssues(loc: Locator): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(loc.doc, {
    Pair: (_k, pair, ancestors) => {
      if (isScalar(pair.key) && String(pair.key.value) === '__proto__') {
        // JavaScript objects cannot hold this key as data; it would vanish silently.
        issues.push({
          location: loc.at(loc.offsetOf(pair.key)),
          path: formatPath(pathOf(ancestors)),
          message: '"__proto__" cannot be a name or key; no lvchain name may start with "_"',
        });
        return visit.SKIP;
      }
      if (pair.key !== null && !isScalar(pair.key)) {
        issues.push({
          location: loc.at(loc.offsetOf(pair.key as YamlNode)),
          path: formatPath(pathOf(ancestors)),
          message: 'map keys must be plain names, not lists or maps',
        });
        return visit.SKIP;
      }
      return undefined;
    },
    Node: (_k, node, ancestors) => {
      if (!isCollection(node) || ancestors.filter(isCollection).length < MAX_NESTING) return undefined;
      issues.push({
        location: loc.at(loc.offsetOf(node)),
        path: formatPath(pathOf(ancestors)),
        message: `lists or maps are nested more than ${MAX_NESTING} levels deep here; an lvchain config needs 6`,
      });
      return visit.BREAK;
    },
    Alias: (_k, alias, ancestors) => {
      const target = alias.resolve(loc.doc);
      if (!target) {
        issues.push({
          location: loc.at(loc.offsetOf(alias)),
          path: formatPath(pathOf([...ancestors, alias])),
          message: `unknown alias *${alias.source}: define the anchor &${alias.source} before using it`,
        });
      } else if (ancestors.includes(target)) {
        issues.push({
          location: loc.at(loc.offsetOf(alias)),
          path: formatPath(pathOf([...ancestors, alias])),
          message: `the alias *${alias.source} refers to a collection that contains it`,
        });
      }
    },
  });
  if (issues.length > 0) return issues;
  const bomb = aliasExpansion(loc);
  return bomb ? [bomb] : [];
}

/** The alias at which expanding aliases makes the document larger than the limit. */
function aliasExpansion(loc: Locator): ConfigIssue | undefined {
  const memo = new Map<unknown, number>();
  const size = (node: unknown): number => {
    const known = memo.get(node);
    if (known !== undefined) return known;
    let n = 1;
    if (isAlias(node)) n = size(node.resolve(loc.doc));
    else if (isPair(node)) n = size(node.key) + size(node.value);
    else if (isCollection(node)) for (const item of node.items) n = Math.min(n + size(item), 2 ** 52);
    memo.set(node, n);
    return n;
  };
  let total = 0;
  let found: ConfigIssue | undefined;
  visit(loc.doc, {
    Node: (_k, node, ancestors) => {
      total += isAlias(node) ? size(node) : 1;
      if (total > MAX_EXPANDED_VALUES && isAlias(node)) {
        found = {
          location: loc.at(loc.offsetOf(node)),
          path: formatPath(pathOf([...ancestors, node])),
          message: `the alias *${node.source} expands to ${size(node)} values, which takes the file past ${MAX_EXPANDED_VALUES}; lvchain refuses such "alias bombs"`,
        };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export function atFirstAlias(loc: Locator, message: string): ConfigIssue {
  let offset = 0;
  visit(loc.doc, {
    Alias: (_k, alias) => {
      offset = loc.offsetOf(alias);
      return visit.BREAK;
    },
  });
  return { location: loc.at(offset), path: '', message: `cannot expand the YAML aliases: ${message}` };
}
