#!/usr/bin/env node
/**
 * The crash harness's trigger, as a process of its own so that nothing else delays it: runs
 * lvchain (argv after the spec) in a new process group, relays its NDJSON stdout line by line,
 * and SIGKILLs the whole group the moment the chosen event is read. Plain JavaScript, so it
 * starts fast and runs without a TypeScript loader.
 *
 *   node killer.mjs '<spec JSON>' node dist/cli/index.js -c lvchain.yaml apply --json ...
 *
 * spec: { boundary?: number, dataMove?: 'mid' | 'end', kill: 'group' | 'ssh' }
 *   boundary 0   the first apply_start (before any step); k ≥ 1: the k-th step_complete
 *   dataMove     'mid': the first step_progress with 0 < fraction < 1; 'end': the step_progress
 *                of 100% (qemu-img prints it when the data is moved, before it closes the image)
 *   kill         'group': SIGKILL to lvchain's process group; 'ssh': SIGKILL to the ssh
 *                processes of that group only (lvchain sees its connections drop; the harness
 *                then kills the ControlMaster, which ssh moved out of the group)
 *
 * It prints {"type":"harness_spawned","pid":..} first (the pid is also the process group), then
 * lvchain's lines, {"type":"harness_trigger","label":..} right after the triggering line, and
 * {"type":"harness_exit","code":..,"signal":..} when lvchain has exited.
 */
import { spawn } from 'node:child_process';
import process from 'node:process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [specText, command, ...args] = process.argv.slice(2);
const spec = specText ? JSON.parse(specText) : {};
const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(`${JSON.stringify({ type: 'harness_spawned', pid: child.pid })}\n`);
let completes = 0;
let fired = false;
let lastStart;

function hit(e) {
  if (spec.dataMove) {
    if (e.type === 'step_start') lastStart = e;
    const f = e.hook?.fraction;
    if (e.type !== 'step_progress') return undefined;
    const kind = lastStart?.hook?.kind ?? 'move';
    if (spec.dataMove === 'end') return f >= 1 ? `${kind} at 100%, before its step completes` : undefined;
    return f > 0 && f < 1 ? `mid-${kind} ${Math.round(f * 100)}%` : undefined;
  }
  if (spec.boundary === undefined) return undefined;
  if (spec.boundary === 0) return e.type === 'apply_start' ? 'before the first step' : undefined;
  if (e.type !== 'step_complete') return undefined;
  completes++;
  return completes === spec.boundary ? `after step complete #${completes}` : undefined;
}

function kill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** ssh processes whose process group is `pgid`, from /proc/<pid>/stat. */
function sshInGroup(pgid) {
  const out = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ \d+ (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (m && m[1] === 'ssh' && Number(m[2]) === pgid) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  let label;
  if (!fired) {
    try {
      label = hit(JSON.parse(line));
    } catch {
      label = undefined;
    }
  }
  if (label !== undefined) {
    fired = true;
    if (spec.kill === 'group') kill(-child.pid);
    else if (spec.kill === 'ssh') for (const pid of sshInGroup(child.pid)) kill(pid);
  }
  process.stdout.write(`${line}\n`);
  if (label !== undefined) process.stdout.write(`${JSON.stringify({ type: 'harness_trigger', label })}\n`);
});
child.on('close', (code, signal) => {
  process.stdout.write(`${JSON.stringify({ type: 'harness_exit', code, signal, pid: child.pid })}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    process.exit(1);
  });
}
