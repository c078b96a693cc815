/** Parses qemu-img's `-p` progress, "    (42.00/100%)", into a fraction. */
export function progressParser(
  onProgress: ((fraction: number) => void) | undefined,
): ((chunk: string) => void) | undefined {
  if (!onProgress) return undefined;
  let last = -1;
  return (chunk: string) => {
    const matches = [...chunk.matchAll(/\(\s*([\d.]+)\/100%\)/g)];
    const m = matches[matches.length - 1];
    if (!m) return;
    const f = Number(m[1]) / 100;
    if (f !== last) {
      last = f;
      onProgress(f);
    }
  };
}
