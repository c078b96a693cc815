/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole
 * foreground process group, lvchain and the qemu-img it runs alike. lvchain must stop after the
 * step in flight, which therefore finishes; a second Ctrl-C ends at once and leaves no qemu-img
 * behind. Either way the next plan shows what is left with its real byte figure, apply
 * converges, and every view reads its data back.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { DirLab } from '../helpers/dirlab.js';
import { viewDigest, writePattern } from '../helpers/data.js';
import { requireTool } from '../helpers/tools.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';

const DISK = 'vm-810-disk-0';
const MiB = 1024 * 1024;
/** Enough data that a merge takes seconds here, so the signals land in the middle of it. */
const CHUNK = 256 * MiB;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: { type: string; [k: string]: unknown }[];
  stderr: string;
  /** Milliseconds from the first signal to lvchain's exit. */
  afterSignalMs: number;
}

/**
 * `apply --json` in a process group of its own, as a shell runs a foreground job; `signals` go
 * to the whole group once a data move reports progress between 0 and 100 %.
 */
function applyInterrupted(
  lab: DirLab,
  args: string[],
  signals: { signal: NodeJS.Signals; delayMs: number }[],
): Promise<Run> {
  const child = spawn(
    process.execPath,
    [CLI, '-c', lab.configPath, 'apply', '--auto-approve', '--json', ...args],
    {
      cwd: lab.root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  const events: Run['events'] = [];
  let stderr = '';
  let sentAt = 0;
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line) as Run['events'][number];
    events.push(e);
    const fraction = (e['hook'] as { fraction?: number } | undefined)?.fraction ?? 0;
    if (sentAt === 0 && e.type === 'step_progress' && fraction > 0 && fraction < 1) {
      sentAt = performance.now();
      for (const s of signals) setTimeout(() => process.kill(-(child.pid as number), s.signal), s.delayMs);
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code, signal) =>
      resolve({ code, signal, events, stderr, afterSignalMs: sentAt ? performance.now() - sentAt : -1 }),
    ),
  );
}

/** qemu-img (and qemu-io: the directory stream copies with it) processes working on this lab's files. */
function qemuImgOn(root: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (/qemu-(img|io)/.test(cmd) && cmd.includes(root)) found.push(`${pid}: ${cmd}`);
  }
  return found;
}

function stepsCompleted(run: Run): string[] {
  return run.events
    .filter((e) => e.type === 'step_complete')
    .map((e) => (e['hook'] as { kind: string }).kind);
}

function summary(run: Run): string {
  // The plan's own summary comes first; apply's is the last.
  const e = run.events.filter((x) => x.type === 'change_summary').pop();
  return String(e?.['@message'] ?? '');
}

describe('Ctrl-C in the middle of a merge (directory backend)', () => {
  let lab: DirLab | undefined;
  /** One line per test that passed, for docs/reliability.md. */
  const facts: string[] = [];

  beforeAll(() => {
    requireTool('qemu-img', 'qemu-utils');
    requireTool('qemu-io', 'qemu-utils');
  });
  afterAll(() => {
    if (facts.length < 4) return;
    writeSection(
      'interrupt:dir',
      [
        '## Ctrl-C and SIGTERM during a merge: directory backend',
        '',
        generatedBy('test/integration/interrupt.test.ts'),
        '',
        `Each case merges ${(2 * CHUNK) / MiB} MiB of written data with the real CLI and signals it once the data move reports progress; every view is then read back.`,
        '',
        ...facts.map((f) => `- ${f}`),
      ].join('\n'),
    );
  });
  afterEach(async () => {
    await lab?.dispose();
    lab = undefined;
  });

  /** A disk whose data lies in snapshot `a` (or in the top), and the digests of its views. */
  async function chain(snapshots: string[], dataIn: 'top' | 'a'): Promise<DirLab> {
    const l = await DirLab.create('lvchain-int-');
    lab = l;
    await l.writeConfig({ [DISK]: { size: '640MiB', snapshots: dataIn === 'a' ? [] : ['a'] } });
    await l.apply();
    await writePattern(l.top(DISK), 0, CHUNK, 0x11);
    await writePattern(l.top(DISK), 384 * MiB, CHUNK, 0x22);
    if (dataIn === 'a') {
      await l.writeConfig({ [DISK]: { size: '640MiB', snapshots } });
      await l.apply();
      await writePattern(l.top(DISK), 8 * MiB, MiB, 0x33);
    }
    return l;
  }

  it('one Ctrl-C during a commit: the commit finishes, "Apply interrupted", then the resume re-copies what C holds', async () => {
    const l = await chain(['a'], 'top');
    const before = await viewDigest(l.top(DISK));
    await l.writeConfig({ [DISK]: { size: '640MiB' } });

    const run = await applyInterrupted(
      l,
      ['--merge-direction', 'commit'],
      [{ signal: 'SIGINT', delayMs: 0 }],
    );

    expect(run.stderr).toContain('Interrupt received. Stopping after the current step');
    expect(run.code, run.stderr).toBe(1);
    expect(summary(run)).toMatch(/^Apply interrupted!/);
    // qemu-img did not die of the terminal's signal: its step completed.
    expect(stepsCompleted(run)).toContain('commit');
    expect(JSON.stringify(run.events)).not.toMatch(/command_failed|exit code/);
    expect(qemuImgOn(l.root)).toEqual([]);

    const plan = await l.run(['plan']);
    expect(plan.stdout).toContain(`snapshot.${DISK}@a will finish an interrupted operation`);
    // `commit -d` leaves C's clusters in place: the re-run copies all of them again.
    expect(plan.stdout).toContain(`commit ${DISK}.qcow2 into snap-a-${DISK}.qcow2 (${2 * CHUNK} bytes)`);
    expect(plan.stdout).not.toMatch(/\(0 bytes\)/);

    await l.apply();
    expect((await l.run(['plan'])).stdout).toContain('No changes.');
    expect(await viewDigest(l.top(DISK))).toBe(before);
    facts.push(
      'SIGINT to the process group mid-commit: the commit finished, "Apply interrupted" (exit 1); the resume showed the bytes the re-run copies, converged, and the data read back.',
    );
  });

  it('one Ctrl-C during a stream: the stream finishes, and the resume only removes the snapshot', async () => {
    const l = await chain(['a', 'b'], 'a');
    const top = await viewDigest(l.top(DISK));
    const snapA = await viewDigest(l.snap(DISK, 'a'));
    await l.writeConfig({ [DISK]: { size: '640MiB', snapshots: ['b'] } });

    const run = await applyInterrupted(
      l,
      ['--merge-direction', 'stream'],
      [{ signal: 'SIGINT', delayMs: 0 }],
    );

    expect(run.code, run.stderr).toBe(1);
    expect(summary(run)).toMatch(/^Apply interrupted!/);
    expect(stepsCompleted(run)).toContain('stream');
    expect(qemuImgOn(l.root)).toEqual([]);

    const plan = await l.run(['plan']);
    expect(plan.stdout).toContain(`snapshot.${DISK}@a will finish an interrupted operation`);
    expect(plan.stdout).not.toMatch(/stream .*\(\d+ bytes\)/);

    await l.apply();
    expect((await l.run(['plan'])).stdout).toContain('No changes.');
    expect(await viewDigest(l.top(DISK))).toBe(top);
    expect(await viewDigest(l.snap(DISK, 'b'))).toBe(snapA);
    facts.push(
      'SIGINT to the process group mid-stream: the stream finished, "Apply interrupted" (exit 1); the resume removed the snapshot, and the data read back.',
    );
  });

  it('a second Ctrl-C ends at once, leaves no qemu-img running, and the resume shows the bytes left', async () => {
    const l = await chain(['a', 'b'], 'a');
    const top = await viewDigest(l.top(DISK));
    const snapA = await viewDigest(l.snap(DISK, 'a'));
    await l.writeConfig({ [DISK]: { size: '640MiB', snapshots: ['b'] } });

    const run = await applyInterrupted(
      l,
      ['--merge-direction', 'stream'],
      [
        { signal: 'SIGINT', delayMs: 0 },
        { signal: 'SIGINT', delayMs: 300 },
      ],
    );

    expect(run.code, run.stderr).toBe(130);
    expect(stepsCompleted(run)).not.toContain('stream');
    expect(run.afterSignalMs).toBeLessThan(3000);
    // The killed qemu-img needs a moment to go once lvchain has signalled it.
    await new Promise((r) => setTimeout(r, 500));
    expect(qemuImgOn(l.root)).toEqual([]);

    const plan = await l.run(['plan']);
    expect(plan.stdout).toContain(`snapshot.${DISK}@a will finish an interrupted operation`);
    const left = /stream .* \((\d+) bytes\)/.exec(plan.stdout)?.[1];
    expect(Number(left)).toBeGreaterThan(0);
    expect(Number(left)).toBeLessThanOrEqual(2 * CHUNK);

    await l.apply();
    expect((await l.run(['plan'])).stdout).toContain('No changes.');
    expect(await viewDigest(l.top(DISK))).toBe(top);
    expect(await viewDigest(l.snap(DISK, 'b'))).toBe(snapA);
    facts.push(
      `A second SIGINT mid-stream: exit 130 within ${Math.ceil(run.afterSignalMs)} ms, no qemu-img left running; the resume showed ${Number(left) / MiB} MiB left to copy, converged, and the data read back.`,
    );
  });

  it('SIGTERM to lvchain alone stops after the current step, as Ctrl-C does', async () => {
    const l = await chain(['a'], 'top');
    const before = await viewDigest(l.top(DISK));
    await l.writeConfig({ [DISK]: { size: '640MiB' } });
    const child = spawn(
      process.execPath,
      [CLI, '-c', l.configPath, 'apply', '--auto-approve', '--json', '--merge-direction', 'commit'],
      { cwd: l.root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    const kinds: string[] = [];
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as { type: string; hook?: { kind?: string; fraction?: number } };
      if (e.type === 'step_complete') kinds.push(e.hook?.kind ?? '');
      const f = e.hook?.fraction ?? 0;
      if (e.type === 'step_progress' && f > 0 && f < 1 && !child.killed) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).toContain('SIGTERM received. Stopping after the current step');
    expect(code).toBe(1);
    expect(kinds).toContain('commit');
    await l.apply();
    expect(await viewDigest(l.top(DISK))).toBe(before);
    facts.push(
      'SIGTERM to lvchain alone mid-commit: the commit finished, exit 1; apply converged and the data read back.',
    );
  });
});
