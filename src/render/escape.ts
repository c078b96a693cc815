/**
 * Text from the storage (file and LV names, tags, sidecars, qemu-img's messages) reaches the
 * terminal through these. A name can hold anything a file name can: an escape sequence would
 * clear the screen or recolour the plan, and a newline would fake a plan line.
 */

/**
 * C0 controls (newline and tab included), DEL, C1 controls (0x9b is a CSI on some terminals),
 * the Unicode line and paragraph separators, and the bidirectional overrides and isolates,
 * which reorder what the reader sees.
 */
function unsafe(n: number): boolean {
  return (
    n < 0x20 ||
    (n >= 0x7f && n <= 0x9f) ||
    n === 0x2028 ||
    n === 0x2029 ||
    (n >= 0x202a && n <= 0x202e) ||
    (n >= 0x2066 && n <= 0x2069)
  );
}

function visible(n: number): string {
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** One line of terminal text: every control character shown as `\xNN` (`\uNNNN` above 0xff). */
export function termText(s: string): string {
  let out = '';
  for (const ch of s) {
    const n = ch.codePointAt(0) ?? 0;
    out += unsafe(n) ? visible(n) : ch;
  }
  return out;
}

/** Text whose newlines are meant (a message's detail): each line escaped on its own. */
export function termLines(s: string): string[] {
  return s.split('\n').map(termText);
}
