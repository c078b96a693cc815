/**
 * In the lab VM over ssh: what each wipe mode zeroes, and an apply that runs out of space in
 * the middle converges once space is freed. What it measures goes into docs/reliability.md.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { useLab } from '../lab/vm.js';
import { LvmLab, must, remoteView } from '../helpers/lvmlab.js';
import { lvchain } from '../helpers/cli.js';
import { withPlanInFlight } from '../helpers/in-flight.js';
import { generatedBy, writeSection } from '../helpers/reliability.js';

const PATTERN = 0x77;
const MARKER = 0xe7;

/** How many bytes of an LV (read raw, as a new owner of its extents would) equal `byte`. */
async function rawCount(l: LvmLab, lv: string, byte: number): Promise<number> {
  const oct = `\\${byte.toString(8).padStart(3, '0')}`;
  const r = await must(l.vm, ['sh', '-c', `tr -dc '${oct}' < "$1" | wc -c`, 'count', l.dev(lv)]);
  return Number(r.stdout.trim());
}

describe('wiping and running out of space, on LVM over ssh', () => {
  const lab = useLab({
    disks: [
      { sizeMiB: 128 },
      { sizeMiB: 128 },
      { sizeMiB: 128, fillByte: MARKER },
      { sizeMiB: 128, fillByte: MARKER },
      { sizeMiB: 96 },
      // Writes held to 16 MiB/s: a wipe takes seconds, as on a SAN, instead of a blink.
      { sizeMiB: 320, writeBytesPerSecond: 16 * 2 ** 20 },
    ],
  });
  const labs: LvmLab[] = [];
  /** One line per test that passed, for docs/reliability.md. */
  const facts = new Map<string, string>();
  afterAll(async () => {
    await Promise.all(labs.map((l) => l.dispose()));
    if (facts.size < 5) return;
    writeSection(
      'wipe:lvm',
      [
        '## Wiping and running out of space: thick LVM over ssh (lab VM)',
        '',
        generatedBy('test/lvm/wipe-space.test.ts'),
        '',
        ...[...facts.values()].map((f) => `- ${f}`),
      ].join('\n'),
    );
  });

  /** A disk whose snapshot s1 holds 12 MiB of PATTERN; then s1 is deleted by streaming it into the top. */
  async function deleteSnapshotOn(
    vg: string,
    device: string,
    wipe: 'none' | 'zeroout-on-free',
  ): Promise<{ l: LvmLab; json: string; removeMs: number }> {
    const l = await LvmLab.create(lab(), vg, device);
    labs.push(l);
    const disk = 'vm-460-disk-0';
    const cfg = (snaps: string[]) =>
      l.writeConfig(
        {
          disks: {
            [disk]: {
              storage: vg,
              size: '16MiB',
              ...(snaps.length ? { snapshots: Object.fromEntries(snaps.map((s) => [s, {}])) } : {}),
            },
          },
        },
        { wipe },
      );
    await cfg([]);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    await must(l.vm, [
      'qemu-io',
      '-f',
      'qcow2',
      '-c',
      `write -P 0x${PATTERN.toString(16)} 0 12M`,
      l.dev(`${disk}.qcow2`),
    ]);
    await cfg(['s1']);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    await cfg([]);
    const r = await l.run(['apply', '--auto-approve', '--merge-direction', 'stream', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    // Whoever gets the freed extents next: a foreign LV over all free space, read raw.
    await must(l.vm, ['lvcreate', '--yes', '-Wn', '-Zn', '-l', '100%FREE', '-n', 'next-owner', vg]);
    const removeMs = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; hook?: { kind?: string; elapsed_ms?: number } })
      .filter((e) => e.type === 'step_complete' && e.hook?.kind === 'remove')
      .reduce((ms, e) => ms + (e.hook?.elapsed_ms ?? 0), 0);
    return { l, json: r.stdout, removeMs };
  }

  it('zeroout-on-free: the extents of a deleted snapshot read as zeros afterwards', async () => {
    const { l, json, removeMs } = await deleteSnapshotOn(
      'vg_wipe',
      lab().devices[0] as string,
      'zeroout-on-free',
    );
    const left = await rawCount(l, 'next-owner', PATTERN);
    expect(left).toBe(0);
    // Progress of the wipe is reported as NDJSON events.
    const events = json
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; hook?: { fraction?: number } });
    expect(events.some((e) => e.type === 'step_progress' && (e.hook?.fraction ?? 0) > 0)).toBe(true);
    facts.set(
      'free',
      `\`zeroout-on-free\`: a snapshot holding 12 MiB of 0x${PATTERN.toString(16)} is deleted (stream); a foreign LV then created over all free extents reads ${left} bytes of it. The removal step, with \`blkdiscard --zeroout\` on the 20 MiB LV and its progress events, took ${removeMs} ms.`,
    );
  });

  it('the plan counts the bytes it zeroes, and over ssh a merge and a wipe report their progress while they run', async () => {
    const l = await LvmLab.create(lab(), 'vg_slow', lab().devices[5]);
    labs.push(l);
    const disk = 'vm-463-disk-0';
    const cfg = (snaps: string[]) =>
      l.writeConfig(
        {
          disks: {
            [disk]: {
              storage: 'vg_slow',
              size: '128MiB',
              ...(snaps.length ? { snapshots: { s1: {} } } : {}),
            },
          },
        },
        { wipe: 'zeroout-on-free' },
      );
    await cfg([]);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    // 48 MiB for the stream below to copy, at 16 MiB/s.
    await must(l.vm, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5c 0 48M', l.dev(`${disk}.qcow2`)]);
    await cfg(['s1']);
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    await cfg([]);
    const snapLv = (await l.lvs()).get(`snap_${disk}_s1.qcow2`);
    const lvBytes = Number(snapLv?.size);
    expect(lvBytes).toBeGreaterThan(128 * 2 ** 20);
    const text = await l.run(['plan']);
    expect(text.stdout).toMatch(
      new RegExp(
        `^Plan: 0 to add, 0 to change, 0 to destroy; 1 snapshot to merge away \\(.*\\); ${lvBytes / 2 ** 20} MiB to zero\\.$`,
        'm',
      ),
    );
    const planned = await l.run(['plan', '--json']);
    const summary = planned.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; changes?: { bytes_to_zero?: number } })
      .find((e) => e.type === 'change_summary');
    expect(summary?.changes?.bytes_to_zero).toBe(lvBytes);

    const r = await l.run(['apply', '--auto-approve', '--json', '--merge-direction', 'stream']);
    expect(r.exitCode, r.stderr).toBe(0);
    type Hook = {
      kind?: string;
      index?: number;
      fraction?: number;
      elapsed_ms?: number;
      bytes?: number;
      bytes_done?: number;
    };
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; hook?: Hook });
    /** The step of this kind, and its first progress event with a part done, but not all. */
    const inBetween = (kind: string) => {
      const step = events.find((e) => e.type === 'step_complete' && e.hook?.kind === kind)?.hook;
      const during = events
        .filter((e) => e.type === 'step_progress' && e.hook?.index === step?.index)
        .map((e) => e.hook as Hook)
        .filter((h) => (h.fraction ?? 0) > 0 && (h.fraction ?? 0) < 1);
      expect(during.length, JSON.stringify(events.filter((e) => e.type === 'step_progress'))).toBeGreaterThan(
        0,
      );
      return { step, first: during[0] as Hook };
    };
    // qemu-img rebase's progress (a stream on LVM) comes as it copies.
    const stream = inBetween('stream');
    expect(stream.step?.elapsed_ms, 'the throttled stream takes seconds').toBeGreaterThan(2000);
    expect(stream.first.elapsed_ms).toBeLessThan((stream.step?.elapsed_ms ?? 0) - 1000);
    expect(stream.first.bytes).toBeGreaterThanOrEqual(48 * 2 ** 20);
    // blkdiscard's lines came in as it wrote them, not all at its end (as a block-buffered pipe delivered them).
    const wipe = inBetween('remove');
    const removal = wipe.step;
    expect(removal?.elapsed_ms, 'the throttled wipe takes seconds').toBeGreaterThan(3000);
    expect(wipe.first.elapsed_ms).toBeLessThan((removal?.elapsed_ms ?? 0) - 1000);
    expect(wipe.first.bytes).toBe(lvBytes);
    expect(wipe.first.bytes_done).toBeGreaterThan(0);
    facts.set(
      'progress',
      `Progress over ssh: a stream of 48 MiB on a disk held to 16 MiB/s took ${stream.step?.elapsed_ms} ms, its first event with a part done came after ${stream.first.elapsed_ms} ms; zeroing a ${lvBytes / 2 ** 20} MiB LV took ${removal?.elapsed_ms} ms; its first progress event with a part done came after ${wipe.first.elapsed_ms} ms (${Math.round((wipe.first.fraction ?? 0) * 100)} %).`,
    );
  });

  it('without wiping, the same extents still hold the snapshot data (the test can see a leak)', async () => {
    const { l, removeMs } = await deleteSnapshotOn('vg_nowipe', lab().devices[1] as string, 'none');
    const left = await rawCount(l, 'next-owner', PATTERN);
    expect(left).toBeGreaterThan(1024 * 1024);
    facts.set(
      'none',
      `Control, \`wipe: none\`: the same foreign LV reads ${left} bytes of the deleted snapshot's data, so the check above can see a leak. The removal step took ${removeMs} ms.`,
    );
  });

  it('zeroout-on-create: a new LV is zeroed before it is formatted; without it, stale bytes stay on the LV', async () => {
    const stale: Record<string, number> = {};
    for (const [vg, device, wipe] of [
      ['vg_zcreate', lab().devices[2], 'zeroout-on-create'],
      ['vg_nozcreate', lab().devices[3], 'none'],
    ] as const) {
      const l = await LvmLab.create(lab(), vg, device);
      labs.push(l);
      await l.writeConfig({ disks: { 'vm-461-disk-0': { storage: vg, size: '16MiB' } } }, { wipe });
      const r = await l.run(['apply', '--auto-approve']);
      expect(r.exitCode, r.stderr).toBe(0);
      stale[wipe] = await rawCount(l, 'vm-461-disk-0.qcow2', MARKER);
      if (wipe === 'none') expect(stale[wipe], 'the control sees stale extents').toBeGreaterThan(1024 * 1024);
      else expect(stale[wipe]).toBe(0);
      // Either way the guest never sees them: extended L2 keeps unwritten space reading zeros.
      expect((await remoteView(lab(), l.dev('vm-461-disk-0.qcow2'), MARKER)).markers).toBe(0);
    }
    facts.set(
      'create',
      `\`zeroout-on-create\`: on a PV filled with 0x${MARKER.toString(16)} before \`pvcreate\`, a new disk's LV read raw holds ${stale['zeroout-on-create']} marker bytes; without it, ${stale['none']}. The guest-visible view holds none either way (extended L2).`,
    );
  });

  it('a VG filled after planning: a saved plan is refused untouched; a run already past its checks fails lvcreate with a clear error, the chain stays consistent, and a later apply resumes', async () => {
    const l = await LvmLab.create(lab(), 'vg_oos', lab().devices[4]);
    labs.push(l);
    const disk = 'vm-462-disk-0';
    await l.writeConfig({ disks: { [disk]: { storage: 'vg_oos', size: '16MiB' } } });
    await expect(l.run(['apply', '--auto-approve'])).resolves.toMatchObject({ exitCode: 0 });
    await must(l.vm, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x42 0 8M', l.dev(`${disk}.qcow2`)]);
    const before = await remoteView(lab(), l.dev(`${disk}.qcow2`), MARKER);
    await l.writeConfig({ disks: { [disk]: { storage: 'vg_oos', size: '16MiB', snapshots: { s1: {} } } } });
    const planned = await lvchain(['-c', l.configPath, 'plan', '--out', join(l.dir, 'plan.json')], {
      cwd: l.dir,
    });
    expect(planned.exitCode, planned.stderr).toBe(0);
    let failedMessage = '';
    // The same plan, held by a run that has already passed its checks when the space goes.
    await withPlanInFlight(l.configPath, async (inFlight) => {
      // Someone else takes every free extent after the plan was made.
      await must(l.vm, ['lvcreate', '--yes', '-l', '100%FREE', '-n', 'greedy', 'vg_oos']);
      const lvsBefore = await l.lvs();
      // A saved plan is planned again before anything runs: the refusal touches nothing.
      const refused = await l.run(['apply', join(l.dir, 'plan.json')]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/does not fit on vg_oos/);
      expect(await l.lvs()).toEqual(lvsBefore);
      const hints: string[] = [];
      const outcome = await inFlight.apply((e) => {
        if (e.type === 'apply_errored') hints.push(...(e.hints ?? []));
      });
      expect(outcome.failed).toHaveLength(1);
      failedMessage = outcome.failed[0]?.message ?? '';
      expect(failedMessage).toMatch(
        /vg_oos on root@127\.0\.0\.1:\d+ has no room for allocate of top of vm-462-disk-0: .*insufficient free space/i,
      );
      expect(hints).toContain('Free space in vg_oos (or extend it), then run "lvchain apply" to finish it.');
    });
    // Consistent: the snapshot holds the data, and the next plan offers to finish the operation.
    expect((await remoteView(lab(), l.dev(`snap_${disk}_s1.qcow2`), MARKER)).digest).toBe(before.digest);
    const resumePlan = await l.run(['plan']);
    expect(resumePlan.stdout).toContain(`snapshot.${disk}@s1 will finish an interrupted operation`);
    expect(resumePlan.exitCode).toBe(1);
    expect(resumePlan.stdout).toContain('the plan does not fit on vg_oos');
    await must(l.vm, ['lvremove', '--yes', 'vg_oos/greedy']);
    const resumed = await l.run(['apply', '--auto-approve']);
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    expect((await remoteView(lab(), l.dev(`snap_${disk}_s1.qcow2`), MARKER)).digest).toBe(before.digest);
    expect((await remoteView(lab(), l.dev(`${disk}.qcow2`), MARKER)).digest).toBe(before.digest);
    expect((await l.run(['plan', '--detailed-exitcode'])).exitCode).toBe(0);
    facts.set(
      'space',
      `Out of space: a VG filled by a foreign LV after planning makes the snapshot's \`lvcreate\` fail mid-apply for a run already past its checks, with "${failedMessage.replace(
        /127\.0\.0\.1:\d+/,
        '<lab>',
      )}". A saved plan made before the space went is refused by apply's re-plan before anything runs. The snapshot LV keeps the data, the next plan shows the resume and refuses it until space is freed, and after \`lvremove\` of the foreign LV, apply finishes it with every view intact.`,
    );
  });
});
