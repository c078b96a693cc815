/** Any run of whitespace, line breaks included, as one space: for one-line messages and statuses. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
