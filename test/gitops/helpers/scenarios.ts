/**
 * Real plans for the Markdown and GitLab tests: configs applied with the real CLI on a
 * directory storage, data written between snapshots with qemu-io, then a plan. Times are
 * pinned with --now so schedules, retention and snapshot names are the same on every run.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePattern } from '../../helpers/data.js';
import type { Plan } from '../../../src/model/plan.js';
import type { Workspace } from './workspace.js';

const MiB = 1024 * 1024;
export const at = (hour: number): string => `2026-11-20T${String(hour).padStart(2, '0')}:05:00Z`;

export interface Scenario {
  plan: Plan;
  /** What `plan --markdown` wrote. */
  markdown: string;
}

async function planWithMarkdown(ws: Workspace, args: readonly string[]): Promise<Scenario> {
  const { plan } = await ws.plan(['--markdown', 'plan.md', ...args]);
  return { plan, markdown: await readFile(join(ws.dir, 'plan.md'), 'utf8') };
}

const GUEST = `guests:
  web-900:
    storage: lab
    disks:
      vm-900-disk-0: { size: 64MiB }
      vm-900-disk-1: { size: 32MiB, protect: true }
    snapshots:
      pre-upgrade: {}
disks:
  vm-901-disk-0: { storage: lab, size: 48MiB }
`;

/** A fresh config: two disks of a guest with a pinned snapshot, and a standalone disk. */
export async function createsOnly(ws: Workspace): Promise<Scenario> {
  await ws.writeConfig(GUEST);
  return planWithMarkdown(ws, ['--now', at(10)]);
}

/** The same config after apply. */
export async function noChanges(ws: Workspace): Promise<Scenario> {
  await ws.writeConfig(GUEST);
  await ws.apply(['--now', at(10)]);
  return planWithMarkdown(ws, ['--now', at(10)]);
}

const HOURLY = `policies:
  hourly:
    timezone: UTC
    schedule: "0 * * * *"
    retention: { last: 2 }
`;

/**
 * Three hourly snapshots with data written between them and a pinned one; then the pinned
 * snapshot and a standalone disk are removed from the config. At the fourth hour the plan
 * takes a snapshot, merges away the expired and the unpinned snapshot (bytes measured by
 * qemu-img map) and destroys the disk (--allow-destroy).
 */
export async function mergesAndDestroy(ws: Workspace): Promise<Scenario> {
  const guest = (pinned: boolean) => `guests:
  web-900:
    storage: lab
    policy: hourly
    disks:
      vm-900-disk-0: { size: 64MiB }
${pinned ? '    snapshots:\n      pre-upgrade: {}\n' : ''}`;
  await ws.writeConfig(`${HOURLY}${guest(true)}disks:\n  vm-901-disk-0: { storage: lab, size: 48MiB }\n`);
  const top = ws.image('vm-900-disk-0');
  await ws.apply(['--now', at(10)]);
  await writePattern(top, 0, 4 * MiB, 0x11);
  await ws.apply(['--now', at(11)]);
  await writePattern(top, 1 * MiB, 4 * MiB, 0x22);
  await ws.apply(['--now', at(12)]);
  await writePattern(top, 2 * MiB, 2 * MiB, 0x33);
  await ws.writeConfig(`${HOURLY}${guest(false)}`);
  return planWithMarkdown(ws, ['--now', at(13), '--allow-destroy']);
}
