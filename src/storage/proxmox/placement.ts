/**
 * Where the Proxmox VMs that list a VG's disks run (DESIGN §13): `.vmlist`, every VM config and
 * the node's own name ride in the VG's observation; then `qm status` is asked on each VM's node,
 * one round trip per node, over the executor of the declared host that is that node
 * (`hosts.<h>.proxmox.node`). A VM whose node lvchain cannot ask counts as running.
 */
import type { BatchCommand, CommandResult, Executor } from '../../exec/executor.js';
import type { ProxmoxNodeSetting } from '../../model/desired.js';
import type { PveVmPlacement } from '../../model/proxmox.js';
import { parseVmList } from '../../observe/proxmox/vmlist.js';
import {
  configsArgv,
  diskOwners,
  factsArgv,
  nodeName,
  parseConfigListing,
  parseQmStatus,
  type DiskOwner,
} from '../../observe/proxmox/placement.js';
import type { Resolved } from './cluster-lock.js';
import { rootOf } from './node.js';
import { LvchainError } from '../../base/errors.js';

/** The executor of the declared host that is this Proxmox node, if any. */
export type NodeReach = (node: string) => Executor | undefined;

export class VmPlacements {
  constructor(
    private readonly exec: Executor,
    private readonly setting: ProxmoxNodeSetting,
    private readonly reach: NodeReach,
  ) {}

  /** The commands that read the VM list, the configs' lines about these disks and this node's name; none off Proxmox, and none run where the root is absent. */
  probe(disks: readonly string[]): BatchCommand[] {
    if (this.setting.kind === 'off' || disks.length === 0) return [];
    const root = rootOf(this.setting);
    const facts = factsArgv(root, disks);
    const argvs = [
      ['cat', `${root}/.vmlist`],
      ['uname', '-n'],
      configsArgv(root, disks),
      ...(facts ? [facts] : []),
    ];
    return argvs.map((argv) => ({ argv, ifDirectory: root }));
  }

  /** Read everything afresh (apply, before it activates a chain). */
  async read(
    node: Resolved | undefined,
    disks: readonly string[],
  ): Promise<Record<string, PveVmPlacement[]>> {
    const probe = this.probe(disks);
    if (!node || probe.length === 0) return {};
    return this.locate(await this.exec.runBatch(probe), node, disks);
  }

  /** The VMs listing each disk and their state, from the probe's results; nothing when the host is no node. */
  async locate(
    results: readonly CommandResult[],
    node: Resolved | undefined,
    disks: readonly string[],
  ): Promise<Record<string, PveVmPlacement[]>> {
    const [vmlist, uname, ...configs] = results;
    if (!node || !vmlist || !uname || configs.length === 0) return {};
    const root = node.node.root;
    const unreadable = (what: string, r: CommandResult) =>
      new LvchainError('command_failed', `cannot read ${what} on ${this.exec.host}: ${r.stderr.trim()}`, {
        hints: ['lvchain must know which VM owns each disk on a Proxmox node before it changes one.'],
      });
    // pmxcfs always has .vmlist; a plain directory standing in for it without one lists no VMs.
    if (vmlist.failed) {
      if (node.node.pmxcfs) throw unreadable(`${root}/.vmlist`, vmlist);
      return {};
    }
    // grep says 1 when no line matched; 2 is an error, and a config it could not read may own a disk.
    const failed = configs.find((c) => c.exitCode > 1);
    if (failed) throw unreadable(`the VM configs under ${root}/nodes`, failed);
    const list = parseVmList(vmlist.stdout, `${root}/.vmlist on ${this.exec.host}`);
    const owners = diskOwners(
      disks,
      list,
      parseConfigListing(
        configs.map((c) => c.stdout),
        root,
      ),
      node.ids,
    );
    const here = (this.setting.kind === 'declared' ? this.setting.node : undefined) ?? nodeName(uname.stdout);
    const byNode = new Map<string, DiskOwner[]>();
    for (const o of Object.values(owners).flat())
      if (!byNode.get(o.node)?.some((x) => x.vmid === o.vmid))
        byNode.set(o.node, [...(byNode.get(o.node) ?? []), o]);
    const states = new Map<string, Pick<PveVmPlacement, 'state' | 'why'>>();
    await Promise.all(
      [...byNode].map(async ([name, vms]) => {
        for (const [i, s] of (await this.ask(name, name === here, vms)).entries())
          states.set(`${name}/${vms[i]?.vmid}`, s);
      }),
    );
    return Object.fromEntries(
      Object.entries(owners).map(([disk, os]) => [
        disk,
        os.map((o) => ({
          ...o,
          here: o.node === here,
          ...(states.get(`${o.node}/${o.vmid}`) ?? { state: 'unknown' as const }),
        })),
      ]),
    );
  }

  private async ask(
    node: string,
    local: boolean,
    vms: readonly DiskOwner[],
  ): Promise<Pick<PveVmPlacement, 'state' | 'why'>[]> {
    const exec = local ? this.exec : this.reach(node);
    if (!exec)
      return vms.map(() => ({
        state: 'unknown',
        why: `no host in the config is Proxmox node ${node} (hosts.<name>.proxmox.node), so lvchain cannot ask it`,
      }));
    let results: CommandResult[];
    try {
      results = await exec.runBatch(vms.map((v) => ['qm', 'status', String(v.vmid)]));
    } catch (e) {
      const why = `cannot ask ${node} (${exec.host}): ${e instanceof Error ? e.message : String(e)}`;
      return vms.map(() => ({ state: 'unknown', why }));
    }
    return vms.map((v, i) => {
      const r = results[i];
      const state = r && !r.failed ? parseQmStatus(r.stdout) : undefined;
      if (state) return { state };
      const said = r ? (r.stderr.trim() || r.stdout.trim()).split('\n').pop() : 'no answer';
      return { state: 'unknown', why: `qm status ${v.vmid} on ${node} did not say (${said})` };
    });
  }
}
