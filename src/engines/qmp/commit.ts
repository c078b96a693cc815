/**
 * Live commits (DESIGN §12): QEMU merges a layer into the snapshot below it while the VM runs.
 * A commit of the top ends in a pivot: the VM writes to the snapshot's image from then on, and
 * the old top is stale. The guest is paused from the pivot until that is recorded durably, so
 * until the record exists both images hold the same view and a resume may commit again; once
 * it exists, a resume renames instead (plan/op-delete.ts).
 */
import { LvchainError } from '../../base/errors.js';
import type { JsonObject } from '../../exec/json-lines.js';
import { rateNote } from '../../base/units.js';
import type { DesiredVm } from '../../model/desired.js';
import type { Step } from '../../model/plan.js';
import type { ImageSite, StepDescription } from '../engine.js';
import { QmpClient } from './client.js';
import {
  backingNodeOf,
  dropNodesOf,
  formatNodeOf,
  queryNodes,
  reopenWritable,
  requireFormatNode,
  type BlockNode,
} from './graph.js';
import { findJob, finishJob, jobId, waitForJob } from './jobs.js';
import { makeExplicit } from './explicit.js';

export type LiveCommitStep = Extract<Step, { kind: 'commit' }>;

function idOf(disk: string, step: LiveCommitStep): string {
  return jobId('commit', disk, step.into.role === 'snapshot' ? step.into.snap : '');
}

function commitArguments(
  site: ImageSite,
  disk: string,
  step: LiveCommitStep,
  nodes: { device: string; top: string; base: string },
): JsonObject {
  return {
    'job-id': idOf(disk, step),
    device: nodes.device,
    // Not the top: the layer above it is rewritten to read the base under the name the base
    // is about to take (the layer's own), so its header always names what offline names.
    ...(step.pivot === undefined
      ? { 'top-node': nodes.top, 'backing-file': site.name(disk, step.layer) }
      : {}),
    'base-node': nodes.base,
    ...(step.rate !== undefined ? { speed: step.rate } : {}),
    'auto-dismiss': false,
  };
}

export function describeCommit(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveCommitStep,
): StepDescription {
  const node = (ref: LiveCommitStep['layer']) => `<the node of ${site.path(disk, ref)}>`;
  const args = commitArguments(site, disk, step, {
    device: `<the writable node of ${site.path(disk, { role: 'top' })}>`,
    top: node(step.layer),
    base: node(step.into),
  });
  const qmp = (execute: string, a?: JsonObject) => ({
    kind: 'qmp' as const,
    socket: vm.qmp,
    message: { execute, ...(a ? { arguments: a } : {}) },
  });
  const pivot =
    step.pivot === undefined
      ? []
      : [
          qmp('stop'),
          qmp('job-complete', { id: args['job-id'] as string }),
          {
            kind: 'in_process' as const,
            description: `record that the VM writes to ${site.name(disk, step.into)}`,
          },
          qmp('cont'),
        ];
  return {
    description: `commit ${site.name(disk, step.layer)} into ${site.name(disk, step.into)} in the running VM (QMP ${vm.qmp}${rateNote(step.rate)})${step.pivot ? ', pausing the guest for the pivot' : ''}`,
    commands: [
      qmp('block-commit', args),
      qmp('query-jobs'),
      ...pivot,
      qmp('job-dismiss', { id: args['job-id'] as string }),
      qmp('blockdev-del', { 'node-name': `<the nodes of ${site.path(disk, step.layer)}>` }),
    ],
  };
}

/**
 * Commit `layer` into `into` in the running VM. A job this operation started before (lvchain
 * was killed) is carried on; a pivot QEMU made before is recorded and the guest resumed.
 */
export async function commitLive(
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveCommitStep,
  recordPivot: () => Promise<void>,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const q = await QmpClient.connect(site.exec, vm.qmp);
  try {
    const id = idOf(disk, step);
    const top = site.path(disk, step.layer);
    const base = site.path(disk, step.into);
    if (!(await findJob(q, id))) {
      const nodes = await queryNodes(q);
      if (step.pivot !== undefined && !formatNodeOf(nodes, top, true)) {
        // No job and the top no longer written: QEMU pivoted before lvchain could record it.
        requireFormatNode(nodes, base, vm.qmp, true);
        await recordAndResume(q, recordPivot);
        await dropNodesOf(q, top);
        return;
      }
      if (step.pivot !== undefined) await requirePause(q, site.name(disk, step.layer));
      const started = await startCommit(q, site, vm, disk, step, nodes);
      if (!started) {
        await dropNodesOf(q, top);
        return;
      }
    }
    if (step.pivot === undefined) await finishJob(q, id, onProgress);
    else await pivot(q, id, recordPivot, onProgress);
    await dropNodesOf(q, top);
  } finally {
    q.close();
  }
}

/** Start the job; false when the layer is out of the chain already (an earlier run committed it). */
async function startCommit(
  q: QmpClient,
  site: ImageSite,
  vm: DesiredVm,
  disk: string,
  step: LiveCommitStep,
  observed: readonly BlockNode[],
): Promise<boolean> {
  let nodes = observed;
  const device = requireFormatNode(nodes, site.path(disk, { role: 'top' }), vm.qmp, true);
  // The layers are renamed under the VM afterwards, which only explicit nodes survive.
  await makeExplicit(q, site, device['node-name'], site.path(disk, step.into));
  nodes = await queryNodes(q);
  const top = step.pivot === undefined ? formatNodeOf(nodes, site.path(disk, step.layer)) : device;
  if (!top) return false;
  const base = requireFormatNode(nodes, site.path(disk, step.into), vm.qmp);
  if ((await backingNodeOf(q, top['node-name'])) !== base['node-name'])
    throw new LvchainError(
      'vm_failed',
      `QEMU at ${vm.qmp}: ${site.name(disk, step.layer)} does not read ${site.name(disk, step.into)} as its backing; nothing was done`,
    );
  // QEMU makes the base (and the layer above a non-active top) writable for the job, but not a
  // node opened read-only on purpose: lvchain's own, after a switch.
  const mustWrite = [base];
  if (step.pivot === undefined)
    for (const n of nodes)
      if (n.drv === 'qcow2' && (await backingNodeOf(q, n['node-name'])) === top['node-name'])
        mustWrite.push(n);
  for (const n of mustWrite)
    if (n.ro && !n['node-name'].startsWith('#')) await reopenWritable(q, n['node-name']);
  await q.execute(
    'block-commit',
    commitArguments(site, disk, step, {
      device: device['node-name'],
      top: top['node-name'],
      base: base['node-name'],
    }),
  );
  return true;
}

/** READY, then pause, pivot, record, resume: the guest never writes past an unrecorded pivot. */
async function pivot(
  q: QmpClient,
  id: string,
  recordPivot: () => Promise<void>,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const job = await waitForJob(q, id, ['ready', 'concluded'], onProgress);
  // A guest the admin paused stays paused.
  let resume = true;
  if (job?.status === 'ready') {
    resume = !(await paused(q));
    await q.execute('stop');
    try {
      await q.execute('job-complete', { id });
      await finishJob(q, id, onProgress);
    } catch (e) {
      // No pivot happened: the guest goes on writing to the top.
      if (resume) await q.execute('cont');
      throw e;
    }
  } else await finishJob(q, id, onProgress);
  await recordAndResume(q, recordPivot, resume);
}

/** A storage daemon has no guest to pause, and a pivot without a pause is not crash-safe. */
async function requirePause(q: QmpClient, top: string): Promise<void> {
  const commands = await q.execute<{ name: string }[]>('query-commands');
  if (!commands.some((c) => c.name === 'stop'))
    throw new LvchainError(
      'vm_failed',
      `QEMU at ${q.socket} cannot pause its guest (no "stop": a storage daemon?), which a commit of the top ${top} needs; nothing was done. Use --merge-direction stream.`,
    );
}

async function paused(q: QmpClient): Promise<boolean> {
  return (await q.execute<{ status: string }>('query-status')).status === 'paused';
}

/**
 * Record the pivot, then let the guest run. A guest found paused by a resumed run was paused
 * by lvchain (its pivot was not recorded yet). If the record fails the guest stays paused, so
 * nothing is written that a resume could lose, and the error says so.
 */
async function recordAndResume(q: QmpClient, recordPivot: () => Promise<void>, resume = true): Promise<void> {
  try {
    await recordPivot();
  } catch (e) {
    throw new LvchainError(
      'vm_failed',
      `QEMU at ${q.socket} pivoted, but recording it failed, so the guest stays paused: ${e instanceof Error ? e.message : String(e)}. Fix the cause and run "lvchain apply" again; it records the pivot and resumes the guest.`,
    );
  }
  if (resume && (await paused(q))) await q.execute('cont');
}
