/** Running the LVM storage steps: their planned commands, fallbacks included, with progress. */
import type { CommandResult, Executor } from '../../exec/executor.js';
import { ok } from '../../exec/executor.js';
import { describeRef } from '../../model/layer.js';
import type { FallbackCondition, PlannedCommand } from '../../model/plan.js';
import { LvchainError } from '../../base/errors.js';
import type { StorageStep } from '../driver.js';
import { parseWipefs } from './report.js';
import { changesMetadata, isZeroArgv } from './steps.js';
import type { ProxmoxStorageLock } from '../proxmox/cluster-lock.js';

/** When a planned fallback runs: the command it stands in for failed this way. */
const FALLS_BACK: Record<FallbackCondition, (failed: CommandResult) => boolean> = {
  zeroout_refused: (r) => /not supported|BLKZEROOUT|Inappropriate ioctl/i.test(r.stderr),
};

export async function executeLvmStep(
  exec: Executor,
  vg: string,
  disk: string,
  step: StorageStep,
  commands: readonly PlannedCommand[],
  onProgress?: (fraction: number) => void,
  clusterLock?: ProxmoxStorageLock,
): Promise<void> {
  const what =
    step.kind === 'create_vg'
      ? `creating VG ${vg}`
      : `${step.kind} of ${describeRef('layer' in step ? step.layer : step.from)} of ${disk}`;
  // Wipes run long: each on its own connection, so they stop with lvchain.
  const long = step.kind === 'wipe' || (step.kind === 'remove' && step.wipe);
  const results: (CommandResult | undefined)[] = [];
  let deviceSize = 0;
  for (const [i, c] of commands.entries()) {
    if (c.kind !== 'argv') continue;
    const { argv } = c;
    if (c.fallback_for) {
      const stood = commands[c.fallback_for.index];
      if (!results[c.fallback_for.index]?.failed || stood?.kind !== 'argv') continue;
      ok(await exec.run(argv, { ownConnection: true }), `zeroing ${stood.argv.at(-1)} with dd`);
      continue;
    }
    if (argv[0] === 'blockdev') {
      deviceSize = Number(ok(await exec.run(argv), `size of ${argv.at(-1)}`).stdout.trim());
      continue;
    }
    if (argv[0] === 'wipefs') {
      assertBlank(exec, argv.at(-1) as string, await exec.run(argv));
      continue;
    }
    if (isZeroArgv(argv)) {
      const r = await zero(exec, argv, deviceSize, onProgress);
      const covered = commands.some(
        (f) => f.kind === 'argv' && f.fallback_for?.index === i && FALLS_BACK[f.fallback_for.when](r),
      );
      if (r.failed && !covered) ok(r, `zeroing ${argv.at(-1)}`);
      results[i] = r;
      continue;
    }
    const run = () => exec.run(argv, { ownConnection: long });
    // On a Proxmox node, the metadata changes run under its cluster storage lock; data moves never do.
    const r = clusterLock && changesMetadata(argv) ? await clusterLock.around(what, run) : await run();
    if (
      r.failed &&
      (argv[0] === 'lvcreate' || argv[0] === 'lvextend') &&
      /insufficient free space|Insufficient free/i.test(r.stderr)
    ) {
      throw new LvchainError(
        'command_failed',
        `${vg} on ${exec.host} has no room for ${what}: ${r.stderr.trim().split('\n').pop()}`,
        {
          details: { argv, stderr: r.stderr },
          hints: [
            'The operation is recorded and the chain is consistent; nothing that was written is lost.',
            `Free space in ${vg} (or extend it), then run "lvchain apply" to finish it.`,
          ],
        },
      );
    }
    results[i] = ok(r, what);
  }
}

/** Run a planned `blkdiscard --zeroout`, with progress from its verbose steps over the device's size. */
async function zero(
  exec: Executor,
  argv: string[],
  size: number,
  onProgress?: (fraction: number) => void,
): Promise<CommandResult> {
  const report =
    onProgress && size > 0
      ? (chunk: string) => {
          for (const m of chunk.matchAll(/Zero-filled (\d+) bytes from the offset (\d+)/g))
            onProgress(Math.min(1, (Number(m[1]) + Number(m[2])) / size));
        }
      : undefined;
  return exec.run(argv, { ownConnection: true, ...(report ? { onStdout: report } : {}) });
}

/** A device is used for a new VG only if nothing is on it: any signature refuses it. */
function assertBlank(exec: Executor, device: string, r: CommandResult): void {
  if (r.failed)
    throw new LvchainError('command_failed', `cannot inspect ${device} on ${exec.host}: ${r.stderr.trim()}`);
  const found = parseWipefs(r.stdout);
  if (found.length > 0)
    throw new LvchainError(
      'drift',
      `${device} on ${exec.host} is not blank (${found.join(', ')}); lvchain creates VGs only on blank devices`,
    );
}
