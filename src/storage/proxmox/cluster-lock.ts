/**
 * Proxmox VE's storage lock (`cluster_lock_storage`, DESIGN §13). For a `shared` storage it is
 * the cluster lock (`cfs_lock_storage`): the directory `<root>/priv/lock/storage-<storeid>`,
 * taken by `mkdir`, renewed by its holder with a newer mtime, released by `rmdir`, and expired
 * by pmxcfs 120 s after it was last seen renewed when a waiter asks with `utime(0, 0)`. For a
 * storage that is not shared it is a node-local flock on
 * `/var/lock/pve-manager/pve-storage-<storeid>` (reference §8), held here by a small shell that
 * lives as long as lvchain's pipe to it. lvchain takes the lock of every storage ID whose
 * `vgname` is the VG, in name order, around each LVM metadata change, and renews a cluster lock
 * while a change runs.
 *
 * On a root that is not pmxcfs (a plain directory, as in the tests), `utime(0, 0)` would only
 * set the mtime to 1970 and make a live lock look expired, so a waiter instead removes a lock
 * whose mtime is more than 120 s old, with one `find -delete` (stat and rmdir in one process).
 */
import type { BatchCommand, CommandResult, Executor, LongRunning } from '../../exec/executor.js';
import type { ProxmoxNodeSetting } from '../../model/desired.js';
import type { PveLockDirectory, PveLockHolder } from '../../model/proxmox.js';
import { LvchainError } from '../../base/errors.js';
import { nodeFromProbe, nodeProbe, readProxmoxNode, storageIdsOf, type ProxmoxNode } from './node.js';

/** pmxcfs's hard-coded lifetime of a lock that is not renewed. */
export const PVE_LOCK_EXPIRY_S = 120;
/** Renewed this often while held: a long change never comes near the expiry. */
export const PVE_LOCK_RENEW_MS = 30_000;
/** Proxmox's own waiters give up after 10 s; lvchain waits at least as long. */
export const PVE_LOCK_MIN_WAIT_MS = 10_000;

// $1 lock directory, $2 expiry in seconds, $3 pmxcfs or plain. Prints TAKEN <mtime>, or BUSY
// <age>; EXPIRED <age> first when it removed an expired lock. Creating the lock directory's
// parent first is what cfs_lock does too.
const ACQUIRE = [
  'take() { mkdir "$1" 2>/dev/null && echo "TAKEN $(stat -c %Y "$1")"; }',
  'mkdir "${1%/*}" 2>/dev/null',
  'take "$1" && exit 0',
  // Released between the failed mkdir and this look: take it now. Only a mkdir that fails with
  // no lock there (no quorum, permissions) is an error, and mkdir's own message says why.
  'if [ ! -d "$1" ]; then mkdir "$1" && { echo "TAKEN $(stat -c %Y "$1")"; exit 0; }; [ -d "$1" ] || exit 1; fi',
  'now=$(date +%s); m=$(stat -c %Y "$1" 2>/dev/null) || m=$now',
  'if [ "$3" = pmxcfs ]; then touch -d @0 "$1" 2>/dev/null',
  'elif [ -n "$(find "$1" -maxdepth 0 -type d ! -newermt "@$((now - $2))" -delete -print 2>/dev/null)" ]; then echo "EXPIRED $((now - m))"; fi',
  'take "$1" && exit 0',
  'echo "BUSY $((now - m))"',
].join('\n');

/** Where Proxmox keeps the flock of a storage that is not shared. */
export const PVE_LOCAL_LOCK_DIR = '/var/lock/pve-manager';

// $1 lock file, $2 seconds to wait. Prints BUSY if it has to wait, LOCKED once it holds the
// flock, then holds it until its stdin closes; exits 1 if the wait ran out.
const HOLD_LOCAL = [
  'mkdir -p "${1%/*}" || exit 2',
  'exec 9>>"$1" || exit 2',
  'flock -n 9 || { echo BUSY; flock -w "$2" 9 || exit 1; }',
  'echo LOCKED',
  'exec cat >/dev/null',
].join('\n');

// $1 lock directory, $2 the mtime lvchain last gave it. GONE or MOVED: the lock is not ours any more.
const CHECK = [
  'm=$(stat -c %Y "$1" 2>/dev/null) || { echo GONE; exit 0; }',
  '[ "$m" = "$2" ] || { echo "MOVED $m"; exit 0; }',
].join('\n');
const RENEW = `${CHECK}\ntouch -m "$1" && echo "RENEWED $(stat -c %Y "$1")"`;
const RELEASE = `${CHECK}\nrmdir "$1" && echo RELEASED`;

export interface ClusterLockHooks {
  /** How long to wait for a lock someone else holds (at least PVE_LOCK_MIN_WAIT_MS). */
  waitMs: number;
  /** Told once per wait: which lock is held, and for a lock directory how long ago it was last renewed. */
  onWait?: (holder: PveLockHolder, waitMs: number) => void;
  /** Told when a lock directory that was not renewed for longer than the expiry was taken over. */
  onExpired?: (holder: PveLockDirectory) => void;
  /** Told at once when a held lock is lost; the run should stop after the step in flight. */
  onLost?: (why: string) => void;
}

export interface Resolved {
  node: ProxmoxNode;
  /** The storage IDs on the VG, in the order their locks are taken. */
  ids: string[];
  /** Those that are not `shared`: their lock is a node-local flock. */
  local: string[];
}

interface Held {
  path: string;
  mtime: string;
}

export class ProxmoxStorageLock {
  private node?: Promise<Resolved | undefined>;
  private hooks: ClusterLockHooks = { waitMs: PVE_LOCK_MIN_WAIT_MS };
  private lost?: string;

  constructor(
    private readonly exec: Executor,
    private readonly vg: string,
    private readonly setting: ProxmoxNodeSetting,
  ) {}

  configure(hooks: ClusterLockHooks): void {
    this.hooks = { ...hooks, waitMs: Math.max(PVE_LOCK_MIN_WAIT_MS, hooks.waitMs) };
  }

  /** The node and the storage IDs on this VG, read once; undefined when the host is no node. */
  resolve(): Promise<Resolved | undefined> {
    this.node ??= readProxmoxNode(this.exec, this.setting).then((node) => this.resolved(node));
    return this.node;
  }

  /** The commands that find the node, for the VG's observation to send in its own round trip. */
  probe(): BatchCommand[] {
    return nodeProbe(this.setting);
  }

  /** What the probe's results say; later changes use it instead of asking again. */
  prime(results: readonly CommandResult[]): Resolved | undefined {
    const found = this.resolved(nodeFromProbe(this.exec.host, this.setting, results));
    this.node = Promise.resolve(found);
    return found;
  }

  private resolved(node: ProxmoxNode | undefined): Resolved | undefined {
    if (!node) return undefined;
    const ids = storageIdsOf(node, this.vg);
    const shared = new Set(node.storages.filter((x) => x.shared).map((x) => x.id));
    return { node, ids, local: ids.filter((id) => !shared.has(id)) };
  }

  /** Run one LVM metadata change under the locks of every storage ID on the VG. */
  async around<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.lost !== undefined) throw this.lostError(this.lost, what, false);
    const resolved = await this.resolve();
    if (!resolved || resolved.ids.length === 0) return fn();
    // Renewed from the first lock taken: waiting for the next one can take longer than the expiry.
    const held: Held[] = [];
    const holders: LongRunning[] = [];
    let stopped = false;
    let renewing = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => {
        renewing = this.renew(held)
          .catch((e: unknown) => this.lose(held[0], e instanceof Error ? e.message : String(e)))
          .then(() => {
            if (!stopped && this.lost === undefined) schedule();
          });
      }, PVE_LOCK_RENEW_MS);
    };
    schedule();
    let result: T;
    try {
      const deadline = Date.now() + this.hooks.waitMs;
      for (const id of resolved.ids)
        if (resolved.local.includes(id)) {
          const path = `${PVE_LOCAL_LOCK_DIR}/pve-storage-${id}`;
          const holder = await this.acquireLocal(path, deadline, what);
          holders.push(holder);
          void holder.exited.then(() => {
            if (!stopped)
              this.markLost(
                `Proxmox's storage lock ${path} on ${this.exec.host} was released under lvchain: its holding shell ended`,
              );
          });
        } else
          held.push(
            await this.acquireOne(
              `${resolved.node.root}/priv/lock/storage-${id}`,
              resolved.node.pmxcfs,
              deadline,
              what,
            ),
          );
      result = await fn();
    } finally {
      stopped = true;
      clearTimeout(timer);
      await renewing;
      await this.release(held);
      for (const h of holders.reverse()) await h.stop();
    }
    // The change itself finished: the run stops after it, and apply resumes from here.
    if (this.lost !== undefined) throw this.lostError(this.lost, what, true);
    return result;
  }

  private async acquireOne(path: string, pmxcfs: boolean, deadline: number, what: string): Promise<Held> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.exec.run(
        this.script(ACQUIRE, path, String(PVE_LOCK_EXPIRY_S), pmxcfs ? 'pmxcfs' : 'plain'),
      );
      if (r.failed)
        throw new LvchainError(
          'command_failed',
          `cannot take Proxmox's storage lock ${path} on ${this.exec.host}: ${r.stderr.trim()}`,
          {
            hints: ['On a Proxmox node this fails when the cluster has no quorum (pvecm status).'],
          },
        );
      const lines = r.stdout.trim().split('\n');
      const expired = lines.find((l) => l.startsWith('EXPIRED '));
      if (expired)
        this.hooks.onExpired?.({ kind: 'directory', path, ageSeconds: Number(expired.split(' ')[1]) });
      const taken = lines.find((l) => l.startsWith('TAKEN '));
      if (taken) return { path, mtime: taken.slice(6) };
      const holder = {
        kind: 'directory' as const,
        path,
        ageSeconds: Number(lines.find((l) => l.startsWith('BUSY '))?.slice(5)),
      };
      if (Date.now() >= deadline)
        throw new LvchainError(
          'lock_held',
          `Proxmox's storage lock ${path} on ${this.exec.host} is held (last renewed ${holder.ageSeconds}s ago); gave up after ${Math.round(this.hooks.waitMs / 1000)}s, before ${what}`,
          {
            details: { path, host: this.exec.host, ageSeconds: holder.ageSeconds },
            hints: [
              'Proxmox (or another tool) is changing this VG. The operation is recorded; run "lvchain apply" again to resume it.',
              `A lock whose holder is gone expires ${PVE_LOCK_EXPIRY_S}s after its last renewal; --lock-timeout waits longer.`,
            ],
          },
        );
      if (attempt === 0) this.hooks.onWait?.(holder, this.hooks.waitMs);
      // Proxmox's waiters retry about once a second.
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(100, deadline - Date.now()))));
    }
  }

  /** A node-local storage's flock, held by a shell until released; waits until the deadline. */
  private async acquireLocal(path: string, deadline: number, what: string): Promise<LongRunning> {
    const waitS = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    const holder = await this.exec.spawn(['sh', '-c', HOLD_LOCAL, 'lvchain-pve-flock', path, String(waitS)]);
    let said: string | undefined;
    try {
      said = await holder.line(0, 30_000);
      if (said === 'BUSY') {
        this.hooks.onWait?.({ kind: 'flock', path }, this.hooks.waitMs);
        said = await holder.line(1, (waitS + 30) * 1000);
      }
    } catch {
      said = undefined;
    }
    if (said === 'LOCKED') return holder;
    const ended = await Promise.race([holder.exited, holder.stop().then(() => undefined)]);
    if (ended?.exitCode === 1)
      throw new LvchainError(
        'lock_held',
        `Proxmox's storage lock ${path} on ${this.exec.host} is held; gave up after ${Math.round(this.hooks.waitMs / 1000)}s, before ${what}`,
        {
          details: { path, host: this.exec.host },
          hints: [
            'Proxmox (or another tool) is changing this storage. The operation is recorded; run "lvchain apply" again to resume it.',
          ],
        },
      );
    throw new LvchainError(
      'command_failed',
      `cannot take Proxmox's storage lock ${path} on ${this.exec.host}: ${ended?.stderr.trim() || 'no answer'}`,
    );
  }

  private async renew(held: Held[]): Promise<void> {
    for (const h of [...held]) {
      if (this.lost !== undefined) return;
      const r = await this.exec.run(this.script(RENEW, h.path, h.mtime));
      const out = r.stdout.trim();
      if (out.startsWith('RENEWED ')) h.mtime = out.slice(8);
      else this.lose(h, r.failed ? r.stderr.trim() : out);
    }
  }

  private async release(held: Held[]): Promise<void> {
    for (const h of [...held].reverse()) {
      const r = await this.exec.run(this.script(RELEASE, h.path, h.mtime));
      if (r.stdout.trim() !== 'RELEASED') this.lose(h, r.failed ? r.stderr.trim() : r.stdout.trim());
    }
  }

  private lose(h: Held | undefined, seen: string): void {
    if (h === undefined) return;
    const how =
      seen === 'GONE'
        ? 'was removed'
        : seen.startsWith('MOVED')
          ? 'was renewed by another holder'
          : `could not be checked (${seen})`;
    this.markLost(`Proxmox's storage lock ${h.path} on ${this.exec.host} ${how} while lvchain held it`);
  }

  private markLost(why: string): void {
    if (this.lost !== undefined) return;
    this.lost = why;
    this.hooks.onLost?.(why);
  }

  private lostError(why: string, what: string, ran: boolean): LvchainError {
    return new LvchainError(
      'lock_lost',
      `${why}; ${ran ? `${what} finished, and the run stops after it` : `${what} was not run`}`,
      { hints: ['Nothing is half-done: run "lvchain apply" again to resume when Proxmox is idle.'] },
    );
  }

  private script(body: string, ...args: string[]): string[] {
    return ['sh', '-c', body, 'lvchain-pve-lock', ...args];
  }
}
