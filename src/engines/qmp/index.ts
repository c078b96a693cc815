/**
 * The live engine (DESIGN §12): changes the disks of a running VM through its QEMU. This module
 * switches a guest's disks onto their new tops in one transaction inside a file-system freeze,
 * and streams; commit.ts, resize.ts and rename.ts do the rest. What it does not do yet, the
 * planner leaves for when the VM is stopped (plan/live.ts).
 */
import { createHash } from 'node:crypto';
import { LvchainError } from '../../base/errors.js';
import type { JsonObject } from '../../exec/json-lines.js';
import { rateNote } from '../../base/units.js';
import type { Executor } from '../../exec/executor.js';
import type { DesiredVm } from '../../model/desired.js';
import type { PlannedCommand, Step } from '../../model/plan.js';
import type { ImageSite, StepDescription } from '../engine.js';
import { GuestAgent } from './agent.js';
import { QmpClient } from './client.js';
import {
  backingNodeOf,
  dropNodesOf,
  fileOf,
  formatNodeOf,
  queryNodes,
  qemuVersion,
  reopenWritable,
  requireFormatNode,
} from './graph.js';
import { findJob, finishJob, jobId } from './jobs.js';
import { streamsIntoSubclusters } from '../../model/qemu.js';
import type { Consistency } from '../../model/meta.js';

export type SwitchStep = Extract<Step, { kind: 'switch' }>;

/** How long the agent may take to answer before a snapshot goes on without it (or is refused). */
const AGENT_TIMEOUT_MS = 5_000;

/** Node names derive from the disk and snapshot, so a resumed run recognises its own nodes. */
export function nodeNames(disk: string, step: SwitchStep): { top: string; file: string; backing: string } {
  const key = `${disk}\0${step.backing.role === 'snapshot' ? step.backing.snap : ''}`;
  const h = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return { top: `lvc-${h}`, file: `lvc-${h}-f`, backing: `lvc-${h}-b` };
}

export function protocolNode(site: ImageSite, path: string): JsonObject {
  return {
    driver: site.protocol,
    filename: path,
    ...(site.protocol === 'host_device' ? { cache: { direct: true }, aio: 'native' } : {}),
  };
}

/** The QMP messages of one disk's switch, the active node shown by what identifies it. */
function switchMessages(
  site: ImageSite,
  disk: string,
  step: SwitchStep,
  active: string,
  below: string | null,
): JsonObject[] {
  const n = nodeNames(disk, step);
  const top = site.path(disk, step.layer);
  const backing = site.path(disk, step.backing);
  return [
    { execute: 'blockdev-add', arguments: { ...protocolNode(site, top), 'node-name': n.file } },
    {
      execute: 'blockdev-add',
      arguments: { driver: 'qcow2', 'node-name': n.top, file: n.file, backing: null },
    },
    {
      execute: 'transaction',
      arguments: { actions: [{ type: 'blockdev-snapshot', data: { node: active, overlay: n.top } }] },
    },
    {
      execute: 'blockdev-add',
      arguments: {
        driver: 'qcow2',
        'node-name': n.backing,
        // Read-only while the old node still opens the file for writing; a stream into it
        // reopens it writable first (streamLive).
        'read-only': true,
        file: protocolNode(site, backing),
        // The layers below stay the nodes they are: a second node on the same file would hold a
        // lock that a later stream into it cannot take.
        backing: below,
      },
    },
    {
      execute: 'blockdev-reopen',
      arguments: { options: [{ driver: 'qcow2', 'node-name': n.top, file: n.file, backing: n.backing }] },
    },
    { execute: 'blockdev-del', arguments: { 'node-name': active } },
  ];
}

export function describeSwitch(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: SwitchStep,
): StepDescription {
  const top = site.path(disk, step.layer);
  const active = `<the writable node of ${top}>`;
  const freeze: PlannedCommand[] =
    vm.agent !== undefined && vm.freeze !== 'off'
      ? [{ kind: 'qmp', socket: vm.agent, message: { execute: 'guest-fsfreeze-freeze' } }]
      : [];
  const thaw: PlannedCommand[] =
    freeze.length > 0 && vm.agent !== undefined
      ? [{ kind: 'qmp', socket: vm.agent, message: { execute: 'guest-fsfreeze-thaw' } }]
      : [];
  const messages = switchMessages(site, disk, step, active, `<the backing node of ${active}>`).map(
    (m): PlannedCommand => ({
      kind: 'qmp',
      socket: vm.qmp,
      message: {
        execute: m.execute as string,
        ...(m.arguments ? { arguments: m.arguments as JsonObject } : {}),
      },
    }),
  );
  // Freeze and thaw bracket the transaction; the graph repair after it runs thawed.
  return {
    description: `switch the running VM (QMP ${vm.qmp}) to the new top ${site.name(disk, step.layer)}${freeze.length > 0 ? `, file systems frozen (${vm.freeze})` : ''}`,
    commands: [
      ...messages.slice(0, 2),
      ...freeze,
      messages[2] as PlannedCommand,
      ...thaw,
      ...messages.slice(3),
    ],
  };
}

/**
 * Whether the agent answers, asked before anything changes: `freeze: required` refuses a
 * snapshot here, with nothing done; `try` goes on crash-consistent.
 */
export async function agentReady(
  exec: Pick<Executor, 'openSocket'>,
  vm: DesiredVm,
): Promise<{ ok: true } | { ok: false; why: string }> {
  if (vm.freeze === 'off' || vm.agent === undefined) return { ok: false, why: 'no freeze is asked for' };
  try {
    const a = await GuestAgent.connect(exec, vm.agent, AGENT_TIMEOUT_MS);
    a.close();
    return { ok: true };
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
}

export interface SwitchEntry {
  disk: string;
  step: SwitchStep;
}

/**
 * Switch every disk of one VM onto its new top in one transaction, frozen if asked and the
 * agent answers. A disk whose node already runs on the new top is left as it is (a resumed run).
 */
export async function switchDisks(
  site: ImageSite,
  vm: DesiredVm,
  entries: readonly SwitchEntry[],
  warn: (message: string) => void,
): Promise<Consistency> {
  const q = await QmpClient.connect(site.exec, vm.qmp);
  try {
    const nodes = await queryNodes(q);
    const pending = entries.flatMap((e) => {
      const n = nodeNames(e.disk, e.step);
      const existing = nodes.find((x) => x['node-name'] === n.top);
      if (existing && !existing.ro && nodes.some((x) => x['node-name'] === n.backing)) return [];
      const top = site.path(e.disk, e.step.layer);
      const active = nodes.find(
        (x) => x.drv === 'qcow2' && !x.ro && fileOf(x) === top && x['node-name'] !== n.top,
      );
      if (!active)
        throw new LvchainError(
          'vm_failed',
          `QEMU at ${vm.qmp} has no writable qcow2 node for ${top}; is this the VM of disk ${e.disk}?`,
          {
            details: { socket: vm.qmp, disk: e.disk, path: top },
          },
        );
      return [{ ...e, n, active: active['node-name'] }];
    });
    if (pending.length === 0) return 'crash';
    const messages = new Map<string, JsonObject[]>();
    for (const p of pending)
      messages.set(p.disk, switchMessages(site, p.disk, p.step, p.active, await backingNodeOf(q, p.active)));
    for (const p of pending) {
      if (!nodes.some((x) => x['node-name'] === p.n.file)) await send(q, messages.get(p.disk)?.[0]);
      if (!nodes.some((x) => x['node-name'] === p.n.top)) await send(q, messages.get(p.disk)?.[1]);
    }
    const transaction = () =>
      q.execute('transaction', {
        actions: pending.map((p) => ({
          type: 'blockdev-snapshot',
          data: { node: p.active, overlay: p.n.top },
        })),
      });
    let consistency: Consistency = 'crash';
    const ready = await agentReady(site.exec, vm);
    if (!ready.ok) {
      if (vm.freeze === 'required')
        throw new LvchainError(
          'vm_failed',
          `freeze: required, but the guest agent does not answer: ${ready.why}`,
        );
      if (vm.freeze === 'try')
        warn(`the guest agent did not answer (${ready.why}); the snapshot is crash-consistent`);
      await transaction();
    } else if (vm.agent !== undefined) {
      const agent = await GuestAgent.connect(site.exec, vm.agent, AGENT_TIMEOUT_MS);
      try {
        const { filesystems } = await agent.frozen(transaction);
        consistency = filesystems > 0 ? 'fs' : 'crash';
        if (filesystems === 0) warn('the guest agent froze no file system; the snapshot is crash-consistent');
      } finally {
        agent.close();
      }
    }
    // The old node still names the file by the top's name; a fresh node on the renamed file
    // takes its place so QEMU's graph names no stale file.
    for (const p of pending) {
      for (const m of messages.get(p.disk)?.slice(3) ?? []) await send(q, m);
      await dropFileNodes(q, site.path(p.disk, p.step.layer), p.n.file);
    }
    return consistency;
  } finally {
    q.close();
  }
}

async function send(q: QmpClient, m: JsonObject | undefined): Promise<void> {
  if (m === undefined) return;
  await q.execute(m.execute as string, m.arguments as JsonObject | undefined);
}

/** The old top's own protocol node, if the monitor made it, is removed too; QEMU frees implicit ones. */
async function dropFileNodes(q: QmpClient, path: string, keep: string): Promise<void> {
  const nodes = await queryNodes(q);
  for (const x of nodes) {
    if (x['node-name'] === keep || x.file !== path || x.drv === 'qcow2' || x['node-name'].startsWith('#'))
      continue;
    await q.execute('blockdev-del', { 'node-name': x['node-name'] }).catch(() => undefined);
  }
}

export type LiveStreamStep = Extract<Step, { kind: 'stream' }>;

function streamArguments(
  site: ImageSite,
  disk: string,
  step: LiveStreamStep,
  device: string,
  base: string | undefined,
): JsonObject {
  const snap = step.from.role === 'snapshot' ? step.from.snap : '';
  return {
    'job-id': jobId('stream', disk, snap),
    device,
    ...(base !== undefined && step.onto
      ? { 'base-node': base, 'backing-file': site.name(disk, step.onto) }
      : {}),
    ...(step.rate !== undefined ? { speed: step.rate } : {}),
    'auto-dismiss': false,
  };
}

export function describeStream(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveStreamStep,
): StepDescription {
  const into = site.path(disk, step.layer);
  const base = step.onto ? `<the node of ${site.path(disk, step.onto)}>` : undefined;
  const args = streamArguments(site, disk, step, `<the node of ${into}>`, base);
  return {
    description: `stream ${site.name(disk, step.from)} into ${site.name(disk, step.layer)} in the running VM (QMP ${vm.qmp}${rateNote(step.rate)})`,
    commands: [
      { kind: 'qmp', socket: vm.qmp, message: { execute: 'block-stream', arguments: args } },
      { kind: 'qmp', socket: vm.qmp, message: { execute: 'query-jobs' } },
      { kind: 'qmp', socket: vm.qmp, message: { execute: 'job-dismiss', arguments: { id: args['job-id'] } } },
      {
        kind: 'qmp',
        socket: vm.qmp,
        message: {
          execute: 'blockdev-del',
          arguments: { 'node-name': `<the nodes of ${site.path(disk, step.from)}>` },
        },
      },
    ],
  };
}

/**
 * Stream S into C in the running VM: QEMU copies what C sees through S and rewrites C's backing
 * to P (relative, as offline), then the nodes of S leave the graph. A job this operation started
 * earlier (lvchain was killed) is waited for instead of started again.
 */
export async function streamLive(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveStreamStep,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const q = await QmpClient.connect(site.exec, vm.qmp);
  try {
    const snap = step.from.role === 'snapshot' ? step.from.snap : '';
    const id = jobId('stream', disk, snap);
    if (!(await findJob(q, id))) {
      const nodes = await queryNodes(q);
      const fromNode = formatNodeOf(nodes, site.path(disk, step.from));
      // S is out of the chain already: an earlier run streamed it; only its nodes may be left.
      if (fromNode) {
        // The layer streamed into: the writable active node when it is the top.
        const into = requireFormatNode(
          nodes,
          site.path(disk, step.layer),
          vm.qmp,
          step.layer.role === 'top' ? true : undefined,
        );
        const base = step.onto ? requireFormatNode(nodes, site.path(disk, step.onto), vm.qmp) : undefined;
        const qemu = await qemuVersion(q);
        if (!streamsIntoSubclusters(qemu) && into.image?.['format-specific']?.data?.['extended-l2'] === true)
          throw new LvchainError(
            'vm_failed',
            `QEMU ${qemu} at ${vm.qmp} would crash streaming into ${site.name(disk, step.layer)}, which has subclusters (fixed in QEMU 8.1); nothing was done`,
          );
        // A node opened read-only on purpose (ours, after a switch) must be reopened writable;
        // an implicit backing node (#blockNNN) is reopened by the job itself.
        if (into.ro && !into['node-name'].startsWith('#')) await reopenWritable(q, into['node-name']);
        await q.execute(
          'block-stream',
          streamArguments(site, disk, step, into['node-name'], base?.['node-name']),
        );
      }
    }
    await finishJob(q, id, onProgress);
    await dropNodesOf(q, site.path(disk, step.from));
  } finally {
    q.close();
  }
}
