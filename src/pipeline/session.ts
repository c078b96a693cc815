/**
 * One command's connection to the world: the loaded config, one executor per host and one
 * backend per storage, made when first needed and closed together.
 */
import type { Desired, ProxmoxNodeSetting } from '../model/desired.js';
import { ProxmoxStorageLock } from '../storage/proxmox/cluster-lock.js';
import type { ProxmoxVms } from '../engines/proxmox/qm.js';
import { VmPlacements } from '../storage/proxmox/placement.js';
import type { Realiser } from '../apply/realiser.js';
import { createRealiser } from '../apply/realiser.js';
import { disksOn } from '../model/on-storage.js';
import type { CommandEvent, Executor } from '../exec/executor.js';
import { LocalExecutor } from '../exec/local.js';
import { SshExecutor } from '../exec/ssh.js';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import { LvchainError } from '../base/errors.js';
import type { GlobalOptions, Io } from './io.js';

export interface SessionOptions {
  /** Told about every command run, on any host (`--command-log`). */
  onCommand?: (e: CommandEvent) => void;
}

export class Session {
  readonly config: LoadedConfig;
  private readonly executors = new Map<string, Executor>();
  private readonly backends = new Map<string, Realiser>();
  private readonly clusterLocks = new Map<string, ProxmoxStorageLock>();
  private readonly listeners: ((e: CommandEvent) => void)[];

  private constructor(config: LoadedConfig, opts: SessionOptions) {
    this.config = config;
    this.listeners = opts.onCommand ? [opts.onCommand] : [];
  }

  static async open(configPath: string, opts: SessionOptions = {}): Promise<Session> {
    return new Session(await loadConfigFile(configPath), opts);
  }

  get desired(): Desired {
    return this.config.desired;
  }

  executor(host: string | undefined): Executor {
    const key = host ?? 'local';
    let exec = this.executors.get(key);
    if (!exec) {
      if (host === undefined) exec = new LocalExecutor(this.listeners);
      else {
        const h = this.desired.hosts[host];
        if (!h) throw new LvchainError('not_found', `no host named ${host} in ${this.desired.source}`);
        exec = new SshExecutor(h.ssh, this.listeners);
      }
      this.executors.set(key, exec);
    }
    return exec;
  }

  backend(storage: string): Realiser {
    let b = this.backends.get(storage);
    if (!b) {
      const s = this.desired.storages[storage];
      if (!s) throw new LvchainError('not_found', `no storage named ${storage} in ${this.desired.source}`);
      const vms = Object.fromEntries(
        disksOn(this.desired, storage).flatMap((d) => (d.vm ? [[d.name, d.vm] as const] : [])),
      );
      const exec = this.executor(s.kind === 'lvm' ? s.host : undefined);
      let lock: ProxmoxStorageLock | undefined;
      let placements: VmPlacements | undefined;
      if (s.kind === 'lvm') {
        const setting = this.proxmoxSetting(s.host);
        lock = new ProxmoxStorageLock(exec, s.name, setting);
        placements = new VmPlacements(exec, setting, (node) => this.nodeExecutor(node));
        this.clusterLocks.set(storage, lock);
      }
      b = createRealiser(s, exec, vms, lock, placements, this.proxmoxVms());
      this.backends.set(storage, b);
    }
    return b;
  }

  private proxmox?: ProxmoxVms;

  /** The run's Proxmox VMs (`vm: { proxmox }`), one for every storage: a VM's qm runs once for all its disks. */
  private proxmoxVms(): ProxmoxVms {
    this.proxmox ??= {
      vmids: Object.fromEntries(
        Object.values(this.desired.disks).flatMap((d) =>
          d.proxmoxVm !== undefined ? [[d.name, d.proxmoxVm] as const] : [],
        ),
      ),
      reach: (node) => this.nodeExecutor(node),
      done: new Set(),
    };
    return this.proxmox;
  }

  /** Proxmox's cluster storage lock of an LVM storage (DESIGN §13), taken around its metadata changes. */
  clusterLock(storage: string): ProxmoxStorageLock | undefined {
    this.backend(storage);
    return this.clusterLocks.get(storage);
  }

  /** The declared host that is this Proxmox node (`proxmox: { node }`), where lvchain asks about its VMs. */
  nodeExecutor(node: string): Executor | undefined {
    const host = Object.values(this.desired.hosts).find(
      (h) => h.proxmox.kind === 'declared' && h.proxmox.node === node,
    );
    return host && this.executor(host.name);
  }

  /** A local storage's host is detected like a silent host's: there is no `hosts:` entry to say. */
  proxmoxSetting(host: string | undefined): ProxmoxNodeSetting {
    return host === undefined
      ? { kind: 'detect' }
      : (this.desired.hosts[host]?.proxmox ?? { kind: 'detect' });
  }

  async close(): Promise<void> {
    await Promise.all([...this.executors.values()].map((e) => e.close()));
  }
}

/** The session of one command run: its config file, and its command log if one was asked for. */
export function openSession(g: GlobalOptions, io: Io): Promise<Session> {
  return Session.open(g.config, io.onCommand ? { onCommand: io.onCommand } : {});
}
