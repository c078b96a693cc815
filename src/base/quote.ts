/**
 * Quoting for a remote POSIX shell. This is the only place where an argv becomes a shell
 * string: ssh joins its arguments with spaces and hands them to the remote user's shell.
 * Single quotes preserve every byte, newlines included; an embedded quote becomes '\''.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}

/** For messages and plans: readable, and unambiguous to copy into a shell. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
