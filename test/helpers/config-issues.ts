/** The issues a config text gets from the loader, by dotted path and line (for config unit tests). */
import { ConfigError } from '../../src/base/errors.js';
import { loadConfigText } from '../../src/config/load.js';

export function configIssues(text: string, file: string): { path: string; line: number; message: string }[] {
  try {
    loadConfigText(text, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => ({ path: i.path, line: i.location.line, message: i.message }));
  }
  throw new Error('expected a ConfigError');
}
