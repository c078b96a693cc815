/**
 * The crash harness, backend-neutral. For a scenario it restores the state before
 * the operation, runs the operation once to record its steps, then, for every step boundary
 * (and in the middle of long data moves), restores that state again, runs the same command
 * in its own process group, reads its NDJSON events and SIGKILLs the whole group (lvchain,
 * qemu-img, ssh) when the chosen event arrives. Then it checks what a user would see and do:
 * `plan` shows a `resume_interrupted` change wherever an intent or a renamed-aside layer was
 * left, `apply` converges, a second `plan` says "No changes.", and every layer reads what it
 * read before (or what the operation makes of it). The kills come from outside; lvchain has
 * no test-only code path for them.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { CLI, lvchain, type CliResult } from '../helpers/cli.js';
import type { Decl, Model } from './model.js';
import { compareViews, configBody, declare, expectedViews } from './model.js';
import type { Fixture, Scenario } from './scenarios.js';
import { scenarioDisks } from './scenarios.js';

export type Backend = 'dir' | 'lvm';

/**
 * How the applier dies. `group`: SIGKILL to its process group (lvchain, local qemu-img, the
 * ssh clients). `ssh-connection`: only its ssh connection is killed (the ControlMaster);
 * lvchain lives on and sees the connection drop.
 */
export type KillMode = 'group' | 'ssh-connection';

/** One storage to crash on: a directory, or a VG in a lab VM. */
export interface CrashStorage {
  readonly backend: Backend;
  readonly label: string;
  /** cwd of lvchain; the config lives here. */
  readonly workdir: string;
  readonly configPath: string;
  /** The storage name configs use. */
  readonly storage: string;
  /** Digest of views, as `views` computes it (ExpectedDisk computes the same). */
  readonly digest: 'sha256' | 'md5';
  storageConfig(): Record<string, unknown>;
  env(): Record<string, string>;
  write(disk: string, offset: number, length: number, pattern: number): Promise<void>;
  zero(disk: string, offset: number, length: number): Promise<void>;
  /** Every layer of these disks that exists, `<disk>:top|<snapshot>|<other name>` → digest of its view. */
  views(disks: readonly string[]): Promise<Map<string, string>>;
  /** What an interrupted operation left, read from the storage itself (tags, sidecar, names). */
  leftovers(disks: readonly string[]): Promise<string[]>;
  /** Saves the whole storage as fixture `id` (shared by the storages of one backend). */
  saveFixture(id: string): Promise<void>;
  restoreFixture(id: string): Promise<void>;
  /** Right after a kill: processes the killed run left running (they should be none). */
  survivors(): Promise<string[]>;
  /** Kills the ssh ControlMasters of the running lvchain (mode `ssh-connection`; killer.mjs kills its other ssh processes). */
  killConnection?(): Promise<void>;
  /** After a kill: remove what the killed run leaked on this machine (ssh masters, temp dirs). */
  cleanupAfterKill(): Promise<void>;
  /** Keeps the storage as it is now under `dir`, for a failure's post-mortem ($LVCHAIN_CRASH_KEEP). */
  keep?(dir: string): Promise<void>;
  /** Kill points in data moves: in the middle (`mid`) or at 100% (`end`), and how. */
  readonly dataMoveKills: readonly { at: 'mid' | 'end'; mode: KillMode }[];
}

export interface KillPoint {
  /** 0 = right after the first apply_start (before any step); k ≥ 1 = after the k-th step_complete. */
  boundary?: number;
  /**
   * In the data move: `mid`, the first step_progress with 0 < fraction < 1; `end`, the progress
   * of 100%, which qemu-img prints when the data is moved, before it closes the image.
   */
  dataMove?: 'mid' | 'end';
  /** The boundary after the last step: lvchain may finish before the kill takes effect. */
  last?: boolean;
  label: string;
  mode: KillMode;
}

export interface KillResult {
  backend: Backend;
  scenario: string;
  operation: string;
  point: string;
  mode: KillMode;
  /** Where the kill landed, from the events lvchain wrote before it died. */
  landed: string;
  leftovers: string[];
  planShowsResume: 'yes' | 'no' | 'not needed';
  planChanges: string[];
  recovery: string;
  converged: boolean;
  data: 'ok' | 'lost';
  survivors: string[];
  ms: number;
  /** Seconds per phase, for tuning: restore, run, survivors, plan, recovery, check... */
  phases: Record<string, number>;
  problems: string[];
}

// ---------------------------------------------------------------- a pool of storages

/** Storages that can run kill points side by side (two lab VMs use both cores). */
export class Pool<T> {
  private readonly free: T[];
  private readonly waiting: ((t: T) => void)[] = [];

  constructor(items: readonly T[]) {
    this.free = [...items];
  }

  async use<R>(fn: (t: T) => Promise<R>): Promise<R> {
    const t = this.free.pop() ?? (await new Promise<T>((resolve) => this.waiting.push(resolve)));
    try {
      return await fn(t);
    } finally {
      const next = this.waiting.shift();
      if (next) next(t);
      else this.free.push(t);
    }
  }
}

// ---------------------------------------------------------------- running lvchain

export function run(s: CrashStorage, args: readonly string[]): Promise<CliResult> {
  return lvchain(['-c', s.configPath, ...args], { cwd: s.workdir, env: s.env() });
}

async function writeConfig(s: CrashStorage, decl: Decl): Promise<void> {
  await writeFile(
    s.configPath,
    stringify({ version: 1, ...s.storageConfig(), ...configBody(decl, s.storage) }),
  );
}

export interface LvEvent {
  type: string;
  hook?: {
    resource?: { addr?: string };
    index?: number;
    count?: number;
    kind?: string;
    description?: string;
    fraction?: number;
    message?: string;
  };
  '@message'?: string;
}

interface KilledRun {
  events: LvEvent[];
  /** Index into `events` of the event that triggered the kill; -1 if none did. */
  trigger: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the kill point label becomes once known (e.g. "mid-commit 37%"). */
  label?: string;
}

const RUN_TIMEOUT_MS = 180_000;
/** Runs per kill point until the kill lands at its boundary. */
const MAX_ATTEMPTS = 5;

const KILLER = join(dirname(fileURLToPath(import.meta.url)), 'killer.mjs');

/**
 * Runs lvchain with `args` through killer.mjs, which starts it in its own process group and
 * kills the group the moment the kill point's event is read (or, for `ssh-connection`, tells
 * us, and we kill the connection). Without a point, the run is left to finish.
 */
function runUntil(s: CrashStorage, args: readonly string[], p: KillPoint | undefined): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const spec = p
      ? { boundary: p.boundary, dataMove: p.dataMove, kill: p.mode === 'group' ? 'group' : 'ssh' }
      : {};
    const child = spawn(
      process.execPath,
      [KILLER, JSON.stringify(spec), process.execPath, CLI, '-c', s.configPath, ...args],
      {
        cwd: s.workdir,
        env: { ...process.env, NO_COLOR: '1', LVCHAIN_IN_AUTOMATION: '1', ...s.env() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const events: LvEvent[] = [];
    let trigger = -1;
    let label: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n[crash harness] stopped after ${RUN_TIMEOUT_MS} ms without finishing`;
      child.kill('SIGTERM');
    }, RUN_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let e: LvEvent & { label?: string; code?: number | null; signal?: NodeJS.Signals | null };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        e = { type: 'text', '@message': line };
      }
      if (e.type === 'harness_spawned') return;
      if (e.type === 'harness_trigger') {
        trigger = events.length - 1;
        label = e.label;
        if (p?.mode === 'ssh-connection') void s.killConnection?.();
      } else if (e.type === 'harness_exit') exit = { code: e.code ?? null, signal: e.signal ?? null };
      else events.push(e);
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({
        events,
        trigger,
        exitCode: exit.code,
        signal: exit.signal,
        stderr,
        ...(label !== undefined ? { label } : {}),
      });
    });
  });
}

/** The label of a boundary kill point, from the step whose step_complete triggered it. */
function boundaryLabel(r: KilledRun, k: number): string {
  if (k === 0) return 'before the first step';
  const done = r.events[r.trigger];
  if (r.trigger < 0 || done?.type !== 'step_complete') return `after step #${k}`;
  const h = [...r.events.slice(0, r.trigger)]
    .reverse()
    .find(
      (e) =>
        e.type === 'step_start' &&
        e.hook?.index === done.hook?.index &&
        e.hook?.resource?.addr === done.hook?.resource?.addr,
    )?.hook;
  return `after step ${(h?.index ?? 0) + 1}/${h?.count ?? '?'} of ${h?.resource?.addr}: ${h?.kind} (${h?.description})`;
}

/**
 * Steps lvchain completed after the kill point's event before it died. lvchain writes a
 * step's step_complete and the next step's step_start in one go, so a following step_start
 * says nothing about that step's work; a following step_complete means the kill came late.
 */
function overshoot(r: KilledRun): number {
  return r.trigger < 0 ? 0 : r.events.slice(r.trigger + 1).filter((e) => e.type === 'step_complete').length;
}

function landing(r: KilledRun, attempts: number): string {
  if (r.trigger < 0) return 'the kill point was never reached';
  const n = overshoot(r);
  if (n === 0 && r.exitCode === 0) return 'lvchain had finished (exit 0) before the kill took effect';
  const err = r.events.slice(r.trigger + 1).find((e) => e.type === 'apply_errored');
  const parts = [n === 0 ? 'at the kill point' : `${n} more step(s) completed before the kill took effect`];
  if (attempts > 1) parts.push(`after ${attempts} attempts`);
  if (err) parts.push(`lvchain reported: ${err['@message'] ?? ''}`);
  return parts.join('; ');
}

// ---------------------------------------------------------------- fixtures

interface BuiltFixture {
  decl: Decl;
  model: Model;
}

/** Fixtures are built once per backend, through the CLI, checked, and saved for every storage of the pool. */
export class Fixtures {
  private readonly built = new Map<string, Promise<BuiltFixture>>();

  constructor(private readonly pool: Pool<CrashStorage>) {}

  get(f: Fixture): Promise<BuiltFixture> {
    let p = this.built.get(f.id);
    if (!p) {
      p = this.pool.use((s) => buildFixture(s, f));
      this.built.set(f.id, p);
    }
    return p;
  }
}

async function buildFixture(s: CrashStorage, f: Fixture): Promise<BuiltFixture> {
  await s.restoreFixture('blank');
  let decl: Decl = {};
  let model: Model = new Map();
  const ensure = (disk: string) => {
    const d = model.get(disk);
    if (!d) throw new Error(`fixture ${f.id} writes to ${disk} before declaring it`);
    return d;
  };
  await f.build({
    declare: async (next) => {
      decl = next;
      await writeConfig(s, decl);
      const r = await run(s, ['apply', '--auto-approve']);
      if (r.exitCode !== 0)
        throw new Error(`fixture ${f.id}: apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
      model = declare(model, decl);
    },
    write: async (disk, offset, length, pattern) => {
      await s.write(disk, offset, length, pattern);
      ensure(disk).top.write(offset, length, pattern);
    },
    zero: async (disk, offset, length) => {
      await s.zero(disk, offset, length);
      ensure(disk).top.write(offset, length, 0);
    },
  });
  await writeConfig(s, decl);
  const plan = await run(s, ['plan', '--detailed-exitcode']);
  if (plan.exitCode !== 0)
    throw new Error(`fixture ${f.id}: plan is not clean:\n${plan.stdout}\n${plan.stderr}`);
  const disks = [...model.keys()];
  const diff = compareViews(expectedViews(model, s.digest), await s.views(disks));
  if (diff.lost.length + diff.extra.length > 0)
    throw new Error(`fixture ${f.id} does not read as written: ${[...diff.lost, ...diff.extra].join('; ')}`);
  await s.saveFixture(f.id);
  return { decl, model };
}

// ---------------------------------------------------------------- one scenario

export interface ScenarioOutcome {
  /** Steps the operation has, from its plan. */
  steps: number;
  results: KillResult[];
}

function commandArgs(sc: Scenario): string[] {
  return [...sc.command, '--auto-approve', '--json'];
}

/**
 * How many steps the operation runs, from its plan (NDJSON planned_change events). The kill
 * point after the last step runs the whole operation, so it doubles as the uninterrupted run.
 */
async function plannedSteps(s: CrashStorage, sc: Scenario, fx: BuiltFixture): Promise<number> {
  await s.restoreFixture(sc.fixture.id);
  await writeConfig(s, sc.decl(fx.decl));
  const args =
    sc.command[0] === 'apply'
      ? ['plan', ...sc.command.slice(1), '--json']
      : [...sc.command, '--plan-only', '--json'];
  const r = await run(s, args);
  const changes = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; change?: { steps?: number } })
    .filter((e) => e.type === 'planned_change');
  if (changes.length === 0)
    throw new Error(`${sc.id}: the plan has no change (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  return changes.reduce((n, c) => n + (c.change?.steps ?? 0), 0);
}

export type Log = (line: string) => void;

/** One test per scenario: every kill point of it converges with nothing lost. */
export function scenarioTests(
  scenarios: readonly Scenario[],
  ctx: () => { pool: Pool<CrashStorage>; fixtures: Fixtures },
  results: Map<string, KillResult[]>,
  timeoutMs: number,
): void {
  for (const sc of scenarios) {
    const where = sc.kills === 'data-move' ? 'in the middle of the data move' : 'at every step boundary';
    it(
      `${sc.operation}, killed ${where}`,
      async () => {
        const { pool, fixtures } = ctx();
        const out = await crashScenario(pool, fixtures, sc, (line) => console.log(line));
        results.set(sc.id, out.results);
        expect(out.results.length).toBeGreaterThan(0);
        expect(
          out.results.filter((r) => r.problems.length > 0).map((r) => `${r.point}: ${r.problems.join('; ')}`),
        ).toEqual([]);
      },
      timeoutMs,
    );
  }
}

export async function crashScenario(
  pool: Pool<CrashStorage>,
  fixtures: Fixtures,
  sc: Scenario,
  log: Log,
): Promise<ScenarioOutcome> {
  const fx = await fixtures.get(sc.fixture);
  let points: KillPoint[];
  let steps = 0;
  if (sc.kills === 'boundaries') {
    steps = await pool.use((s) => plannedSteps(s, sc, fx));
    points = Array.from({ length: steps + 1 }, (_, k) => ({
      boundary: k,
      label: `after step #${k}`,
      mode: 'group' as const,
      last: k === steps,
    }));
  } else {
    const kills = await pool.use(async (s) => s.dataMoveKills);
    points = kills.map((k) => ({ dataMove: k.at, label: `data move (${k.at})`, mode: k.mode }));
  }
  const results = await Promise.all(
    points.map((p) =>
      pool.use(async (s) => {
        const r = await killPoint(s, sc, fx, p);
        log(formatResult(s, r));
        return r;
      }),
    ),
  );
  return { steps, results };
}

function formatResult(s: CrashStorage, r: KillResult): string {
  const verdict = r.problems.length === 0 ? 'ok  ' : 'FAIL';
  return `${verdict} [${s.label}] ${r.scenario} | ${r.point}${r.mode === 'group' ? '' : ` (${r.mode})`} | landed ${r.landed} | resume ${r.planShowsResume} | converged ${r.converged ? 'yes' : 'no'} | data ${r.data} | ${(r.ms / 1000).toFixed(1)} s (${Object.entries(
    r.phases,
  )
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ')})${r.problems.length > 0 ? `\n      ${r.problems.join('\n      ')}` : ''}`;
}

interface PlanFile {
  resource_changes?: { address: string; action_reason: string; operation?: { op?: string } }[];
  errored?: boolean;
}

async function killPoint(s: CrashStorage, sc: Scenario, fx: BuiltFixture, p: KillPoint): Promise<KillResult> {
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  let tp = t0;
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - tp) / 1000;
    tp = now;
  };
  const problems: string[] = [];
  const disks = scenarioDisks(sc, fx.decl);
  const decl = sc.decl(fx.decl);

  // 1. Run and kill. On a fast backend the kill can take effect a step late, and a data move
  // can go from 0 to 100% without a progress line in between: then try again, so that every
  // kill point is really tested.
  let killed: KilledRun;
  let attempts = 0;
  const missed = (r: KilledRun) => overshoot(r) > 0 || (p.dataMove === 'mid' && r.trigger < 0);
  do {
    attempts++;
    await s.restoreFixture(sc.fixture.id);
    await writeConfig(s, decl);
    phase('restore');
    killed = await runUntil(s, commandArgs(sc), p);
    phase('run');
  } while (missed(killed) && attempts < MAX_ATTEMPTS);
  if (overshoot(killed) > 0) problems.push(`the kill never landed in time in ${attempts} attempts`);
  const point = p.dataMove ? (killed.label ?? p.label) : boundaryLabel(killed, p.boundary ?? 0);
  if (killed.trigger < 0)
    problems.push(
      `the kill point was never reached (exit ${killed.exitCode}): ${killed.stderr.trim().split('\n').pop() ?? ''}`,
    );
  else if (p.mode === 'group' && killed.signal !== 'SIGKILL' && !(p.last && killed.exitCode === 0))
    problems.push(`lvchain was not killed (exit ${killed.exitCode}, signal ${killed.signal})`);
  const survivors = await s.survivors();
  if (survivors.length > 0) problems.push(`processes outlived the killed run: ${survivors.join('; ')}`);
  await s.cleanupAfterKill();
  phase('survivors');

  // 2. What is left, and what plan says about it.
  const leftovers = await s.leftovers(disks);
  const planPath = join(s.workdir, 'crash-plan.json');
  const plan = await run(s, ['plan', '--out', planPath, ...sc.flags]);
  let changes: NonNullable<PlanFile['resource_changes']> = [];
  if (plan.exitCode !== 0)
    problems.push(`plan after the kill failed (${plan.exitCode}): ${plan.stderr.trim()}`);
  else changes = (JSON.parse(await readFile(planPath, 'utf8')) as PlanFile).resource_changes ?? [];
  const resume = changes.some((c) => c.action_reason === 'resume_interrupted');
  const planShowsResume: KillResult['planShowsResume'] = resume
    ? 'yes'
    : leftovers.length > 0
      ? 'no'
      : 'not needed';
  if (leftovers.length > 0 && !resume)
    problems.push(`the storage holds ${leftovers.join(', ')} but plan shows no resume_interrupted change`);
  phase('plan');

  // 3. Recover as a user would: apply resumes; an imperative command killed before it recorded anything is run again.
  let recovery = 'apply';
  let converged = true;
  const before = expectedViews(fx.model, s.digest);
  let rec: CliResult;
  if (sc.imperative && !resume) {
    const now = await s.views(disks);
    const untouched = compareViews(before, now);
    if (untouched.lost.length + untouched.extra.length === 0) {
      recovery = `${sc.command[0]} again`;
      rec = await run(s, [...sc.command, '--auto-approve']);
    } else {
      recovery = 'nothing left to do';
      rec = { exitCode: 0, stdout: '', stderr: '' };
    }
  } else {
    rec = await run(s, ['apply', '--auto-approve', ...sc.flags]);
  }
  phase('recover');
  if (rec.exitCode !== 0) {
    converged = false;
    problems.push(
      `${recovery} failed (${rec.exitCode}): ${(rec.stderr.trim() || rec.stdout.trim()).split('\n').slice(-4).join(' / ')}`,
    );
  }
  const again = await run(s, ['plan', '--detailed-exitcode', ...sc.flags]);
  if (again.exitCode !== 0 || !again.stdout.includes('No changes.')) {
    converged = false;
    problems.push(
      `plan after recovery is not "No changes." (${again.exitCode}): ${again.stdout.trim().split('\n').slice(0, 6).join(' / ')} ${again.stderr.trim()}`,
    );
  }

  phase('replan');
  // 4. The data.
  const diff = compareViews(expectedViews(sc.after(fx.model), s.digest), await s.views(disks));
  phase('views');
  if (diff.lost.length > 0) problems.push(`data: ${diff.lost.join('; ')}`);
  if (diff.extra.length > 0) {
    converged = false;
    problems.push(`left behind: ${diff.extra.join('; ')}`);
  }
  const keep = process.env.LVCHAIN_CRASH_KEEP;
  if (keep && problems.length > 0 && s.keep) {
    const dir = join(keep, `${s.backend}-${sc.id}-${p.boundary ?? 'move'}-${p.mode}-${Date.now()}`);
    await s.keep(dir);
    await writeFile(join(dir, 'events.ndjson'), killed.events.map((e) => JSON.stringify(e)).join('\n'));
    problems.push(`kept in ${dir}`);
  }
  return {
    backend: s.backend,
    scenario: sc.id,
    operation: sc.operation,
    point,
    mode: p.mode,
    landed: landing(killed, attempts),
    leftovers,
    planShowsResume,
    planChanges: changes.map((c) => `${c.address} (${c.action_reason})`),
    recovery,
    converged,
    data: diff.lost.length === 0 ? 'ok' : 'lost',
    survivors,
    ms: performance.now() - t0,
    phases,
    problems,
  };
}
