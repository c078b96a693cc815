/** Colour is decided once by the CLI (TTY, NO_COLOR, --no-color) and passed in. */
import pc from 'picocolors';

export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

export function makeStyle(color: boolean): Style {
  const c = pc.createColors(color);
  return { green: c.green, red: c.red, yellow: c.yellow, cyan: c.cyan, bold: c.bold, dim: c.dim };
}
