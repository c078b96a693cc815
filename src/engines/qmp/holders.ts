/**
 * Who holds a disk's images open, by process: one listing of every process's open files and
 * of the unix sockets, read on the storage's host in a single command. It names the holder in
 * a refusal, and it tells whether the holder is the QEMU behind the declared QMP socket.
 */
import type { Executor } from '../../exec/executor.js';

export interface Holder {
  pid: number;
  /** The process name (/proc/<pid>/comm). */
  name: string;
}

export interface HolderReport {
  /** Holders of each path asked about (a path nobody holds is absent). */
  byPath: Map<string, Holder[]>;
  /** Processes that listen on each socket path asked about. */
  bySocket: Map<string, number[]>;
}

const RESOLVED = '--lvchain-fds--';
const MARK = '--lvchain-unix--';
const COMM = '--lvchain-comm--';

// An fd names the file the kernel opened, after symlinks: an LV's /dev/<vg>/<lv> shows as
// /dev/dm-N under udev (or /dev/mapper/<vg>-<lv> without it), so each path asked about is
// resolved first. ls -l of every fd directory names each open file's current path (renames
// included), and the inode of each socket; /proc/net/unix maps listening socket paths to
// those inodes.
const SCRIPT = [
  'for p in "$@"; do printf \'%s\\t%s\\n\' "$p" "$(readlink -f -- "$p")"; done',
  `echo ${RESOLVED}`,
  'ls -l /proc/[0-9]*/fd/ 2>/dev/null',
  `echo ${MARK}`,
  'cat /proc/net/unix 2>/dev/null',
  `echo ${COMM}`,
  'grep -H . /proc/[0-9]*/comm 2>/dev/null',
  'true',
].join('\n');

export function holdersArgv(paths: readonly string[]): string[] {
  return ['sh', '-c', SCRIPT, 'lvchain-holders', ...paths];
}

export function parseHolders(
  stdout: string,
  paths: readonly string[],
  sockets: readonly string[],
): HolderReport {
  const [resolvedPart = '', listing = ''] = stdout.split(`${RESOLVED}\n`);
  const [fds = '', rest = ''] = listing.split(`${MARK}\n`);
  const resolved = new Map<string, string>();
  for (const line of resolvedPart.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0 && tab < line.length - 1) resolved.set(line.slice(0, tab), line.slice(tab + 1));
  }
  const [unix = '', comms = ''] = rest.split(`${COMM}\n`);
  const names = new Map<number, string>();
  for (const line of comms.split('\n')) {
    const m = /^\/proc\/(\d+)\/comm:(.*)$/.exec(line);
    if (m) names.set(Number(m[1]), m[2] as string);
  }
  const wantedPaths = new Set(paths);
  const pidsByTarget = new Map<string, Set<number>>();
  let pid = 0;
  for (const line of fds.split('\n')) {
    const dir = /^\/proc\/(\d+)\/fd\/?:$/.exec(line);
    if (dir) {
      pid = Number(dir[1]);
      continue;
    }
    const arrow = line.indexOf(' -> ');
    if (arrow < 0 || pid === 0) continue;
    const target = line.slice(arrow + 4);
    let set = pidsByTarget.get(target);
    if (!set) pidsByTarget.set(target, (set = new Set()));
    set.add(pid);
  }
  const holder = (p: number): Holder => ({ pid: p, name: names.get(p) ?? '?' });
  const byPath = new Map<string, Holder[]>();
  for (const p of wantedPaths) {
    const pids = pidsByTarget.get(p) ?? pidsByTarget.get(resolved.get(p) ?? p);
    if (pids) byPath.set(p, [...pids].sort((a, b) => a - b).map(holder));
  }
  const bySocket = new Map<string, number[]>();
  for (const line of unix.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; a listening socket has flag 00010000.
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !sockets.includes(f[7] as string) || f[3] !== '00010000') continue;
    const pids = pidsByTarget.get(`socket:[${f[6]}]`);
    if (pids)
      bySocket.set(
        f[7] as string,
        [...pids].sort((a, b) => a - b),
      );
  }
  return { byPath, bySocket };
}

export async function probeHolders(
  exec: Executor,
  paths: readonly string[],
  sockets: readonly string[],
): Promise<HolderReport> {
  const r = await exec.run(holdersArgv(paths));
  return parseHolders(r.stdout, paths, sockets);
}

export function describeHolder(h: Holder): string {
  return `pid ${h.pid} (${h.name})`;
}
