/**
 * `npm run bench:merge` (issue 14): how fast a merge moves its data on the directory backend,
 * against a raw copy of the same number of bytes on the same filesystem.
 *
 * One 4 GiB disk, chain s0 ← s1 ← top: s1 holds 1.5 GiB that top does not shadow, and top holds
 * 1.5 GiB of its own, so deleting s1 moves 1.5 GiB in either direction. Every round restores the
 * chain from a sparse copy, then times one operation including a trailing fsync of the files it
 * wrote (`sync FILE…`, not a global `sync`: the machine is shared). Prints the median of the rounds,
 * their spread (min–max) and each median's ratio to `dd oflag=direct`.
 *
 * LVCHAIN_BENCH_ROUNDS sets the rounds (default 5). Runs the built CLI (dist/): `npm run build` first.
 */
import { execa } from 'execa';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DirLab } from '../test/helpers/dirlab.js';
import { writePattern } from '../test/helpers/data.js';
import { requireTool } from '../test/helpers/tools.js';
import {
  CACHE_MODES,
  commitArgv,
  copyOnReadArgv,
  mapArgv,
  streamArgvs,
} from '../src/engines/offline/qemu-img-argv.js';
import { copyIntoChild } from '../src/engines/offline/split-stream.js';
import { LocalExecutor } from '../src/exec/local.js';

const MiB = 1024 ** 2;
const DISK = 'vm-900-disk-0';
const MOVE = 1536 * MiB;
const ROUNDS = Number(process.env['LVCHAIN_BENCH_ROUNDS'] ?? 5);

interface Operation {
  label: string;
  /** Runs the operation; resolves to the files whose writes the trailing fsync covers. */
  run(): Promise<string[]>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function sh(argv: string[], cwd?: string): Promise<void> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const r = await execa(cmd, args, { cwd, reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${String(r.stderr)}`);
}

async function main(): Promise<void> {
  for (const [tool, pkg] of [
    ['qemu-img', 'qemu-utils'],
    ['qemu-io', 'qemu-utils'],
    ['dd', 'coreutils'],
  ] as const)
    requireTool(tool, pkg);
  const lab = await DirLab.create('lvchain-bench-merge-');
  try {
    const dir = lab.diskDir(DISK);
    const fixture = join(lab.root, 'fixture');
    const spec = (snapshots: string[]) => ({ [DISK]: { size: '4GiB', snapshots } });
    process.stdout.write('building the chain through lvchain apply and qemu-io writes…\n');
    await lab.writeConfig(spec([]));
    await lab.apply();
    await writePattern(lab.top(DISK), 0, 256 * MiB, 0x11);
    await lab.writeConfig(spec(['s0']));
    await lab.apply();
    await writePattern(lab.top(DISK), 256 * MiB, MOVE, 0x22);
    await lab.writeConfig(spec(['s0', 's1']));
    await lab.apply();
    await writePattern(lab.top(DISK), 2048 * MiB, MOVE, 0x33);
    await sh(['cp', '-a', '--sparse=always', lab.storePath, fixture]);
    const raw = join(lab.root, 'source.raw');
    await sh(['dd', 'if=/dev/urandom', `of=${raw}`, 'bs=4M', `count=${MOVE / (4 * MiB)}`, 'status=none']);
    const copy = join(lab.root, 'copy.raw');

    const restore = async () => {
      await rm(lab.storePath, { recursive: true, force: true });
      await rm(copy, { force: true });
      await sh(['cp', '-a', '--sparse=always', fixture, lab.storePath]);
      await sh(['sync', ...(await layerFiles(dir))]);
    };
    // The config that deletes s1; the fixture's own config declared it.
    const deleteS1 = () => lab.writeConfig(spec(['s0']));
    const top = lab.top(DISK);
    const s1 = lab.snap(DISK, 's1');
    const s0Name = `snap-s0-${DISK}.qcow2`;
    const dd = (flag: string): Operation => ({
      label: `dd ${flag}`,
      run: async () => {
        await sh(['dd', `if=${raw}`, `of=${copy}`, 'bs=4M', flag, 'status=none']);
        return [copy];
      },
    });
    const overheads = new Map<string, { before: number[]; after: number[] }>();
    const apply = (direction: 'commit' | 'stream'): Operation => ({
      label: `lvchain apply, delete by ${direction}`,
      run: async () => {
        await deleteS1();
        const log = join(lab.root, 'commands.ndjson');
        await rm(log, { force: true });
        const started = Date.now();
        const r = await lab.run([
          '--command-log',
          log,
          'apply',
          '--auto-approve',
          '--merge-direction',
          direction,
        ]);
        const ended = Date.now();
        if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
        const move = moveSpan(await readFile(log, 'utf8'));
        const o = overheads.get(direction) ?? { before: [], after: [] };
        o.before.push((move.start - started) / 1000);
        o.after.push((ended - move.end) / 1000);
        overheads.set(direction, o);
        return layerFiles(dir);
      },
    });
    const bare = (label: string, argv: string[]): Operation => ({
      label,
      run: async () => {
        await sh(argv, dir);
        return layerFiles(dir);
      },
    });
    const operations: Operation[] = [
      dd('oflag=direct'),
      dd('conv=fsync'),
      apply('commit'),
      bare(`bare: ${commitArgv('dir', top, s1).slice(0, -2).join(' ')} …`, commitArgv('dir', top, s1)),
      apply('stream'),
      {
        label: 'bare: the split stream (maps, qemu-io copy-on-read, flush, rebase -u)',
        run: async () => {
          const mode = CACHE_MODES.dir.stream;
          if (mode.form !== 'split') throw new Error('the directory stream is no longer split');
          const paths = { layer: top, from: s1 };
          const exec = new LocalExecutor();
          const maps = (ps: readonly string[]) => exec.runBatch(ps.map((p) => mapArgv('file', p)));
          await copyIntoChild(exec, maps, paths, copyOnReadArgv(mode.cache, top), 'bench stream');
          const argvs = streamArgvs('dir', 'file', paths, s0Name);
          await sh(argvs[argvs.length - 1] as string[], dir);
          return layerFiles(dir);
        },
      },
      bare('bare: qemu-img rebase -t writethrough (the stream before issue 14)', [
        'qemu-img',
        'rebase',
        '-t',
        'writethrough',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        s0Name,
        top,
      ]),
      bare('Proxmox form: qemu-img rebase (default cache)', [
        'qemu-img',
        'rebase',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        s0Name,
        top,
      ]),
    ];

    const times = new Map<string, number[]>(operations.map((o) => [o.label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, so a burst of load from other work on the machine hits every row alike.
      for (const o of operations) {
        await restore();
        const t0 = performance.now();
        await sh(['sync', ...(await o.run())]);
        times.get(o.label)?.push((performance.now() - t0) / 1000);
      }
      process.stdout.write(`  round ${round + 1}/${ROUNDS} done\n`);
    }

    const rate = (s: number) => MOVE / MiB / s;
    const base = rate(median(times.get(operations[0]?.label ?? '') ?? []));
    console.log(
      `\nlvchain merge benchmark: ${MOVE / MiB} MiB moved on one 4 GiB disk, directory backend (${lab.root})`,
    );
    console.log(
      `median of ${ROUNDS} rounds, each including a trailing fsync; spread = slowest–fastest round\n`,
    );
    for (const o of operations) {
      const xs = times.get(o.label) ?? [];
      const m = median(xs);
      const spread = `${rate(Math.max(...xs)).toFixed(0)}–${rate(Math.min(...xs)).toFixed(0)}`;
      console.log(
        `  ${o.label.padEnd(62)} ${m.toFixed(2).padStart(6)} s  ${rate(m).toFixed(0).padStart(5)} MiB/s  (${spread})  ${(rate(m) / base).toFixed(2)}× dd direct`,
      );
    }
    console.log(
      '\nlvchain apply beyond its data move (from --command-log): from the process start to the first',
    );
    console.log('data-moving command, and from the last one to the process exit; median (min–max)\n');
    const show = (xs: number[]) =>
      `${median(xs).toFixed(3)} s (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
    for (const [direction, o] of overheads) {
      const total = o.before.map((b, i) => b + (o.after[i] ?? 0));
      console.log(
        `  delete by ${direction.padEnd(7)} before ${show(o.before)}   after ${show(o.after)}   total ${show(total)}`,
      );
    }
  } finally {
    await lab.dispose();
  }
}

/**
 * When the commands that move data ran, from a command log: `qemu-img commit`, the copy-on-read
 * `qemu-io` and the `qemu-img rebase` that follows it. Each event is logged at its command's end.
 */
function moveSpan(log: string): { start: number; end: number } {
  const spans = log
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { argv: string[]; durationMs: number; time: string })
    .filter(
      ({ argv }) =>
        argv.includes('commit') || argv.includes('rebase') || argv.some((a) => a.endsWith('qemu-io')),
    )
    .map((e) => ({ end: Date.parse(e.time), start: Date.parse(e.time) - e.durationMs }));
  if (spans.length === 0) throw new Error(`no data-moving command in the command log:\n${log}`);
  return { start: Math.min(...spans.map((x) => x.start)), end: Math.max(...spans.map((x) => x.end)) };
}

async function layerFiles(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  return (await readdir(dir)).map((f) => join(dir, f));
}

await main();
