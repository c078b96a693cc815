/**
 * DESIGN §9: every command that reads or writes a qcow2 header has a time bound, so a FIFO, a
 * device or a hung NFS mount in its way gives an error instead of a hang (which would also hold
 * the storage lock). Data moves (commit, rebase with copy, convert) are exempt: they are long by
 * nature and are bounded by their progress instead. LVCHAIN_HEADER_TIMEOUT (seconds) raises the
 * bound for storage known to be slow.
 */
const DEFAULT_SECONDS = 60;

const HEADER_SUBCOMMANDS = new Set([
  'info',
  'map',
  'measure',
  'check',
  'create',
  'resize',
  'amend',
  'snapshot',
]);

export function headerTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['LVCHAIN_HEADER_TIMEOUT'];
  const seconds =
    raw !== undefined && /^\d+(\.\d+)?$/.test(raw) && Number(raw) > 0 ? Number(raw) : DEFAULT_SECONDS;
  return Math.round(seconds * 1000);
}

/** The time bound of a command, or undefined when it is a data move or not qemu-img at all. */
export function boundOf(argv: readonly string[]): number | undefined {
  if (argv[0] !== 'qemu-img') return undefined;
  const sub = argv[1] ?? '';
  // `rebase -u` only rewrites the header; without it, rebase copies data.
  if (HEADER_SUBCOMMANDS.has(sub) || (sub === 'rebase' && argv.includes('-u'))) return headerTimeoutMs();
  return undefined;
}

/** The stderr given to a command that was ended at its bound: what, how long, and why it may be. */
export function timedOutMessage(argv: readonly string[], ms: number): string {
  const file = argv.at(-1) ?? '';
  return `${argv.slice(0, 2).join(' ')} on ${file} did not finish within ${ms / 1000} s and was stopped (a FIFO, a device or a hung mount in its way?)\n`;
}
