/**
 * A layer renamed under a running VM, and QEMU's node moved onto the new name, are two acts: a
 * run can stop between them, or between any two of the reattach's six QMP messages. The next
 * run's reattach (the `reattach` step a resume plans) must finish from wherever it stopped.
 *
 * Each case renames the backing image of a running QEMU (qemu-storage-daemon, its nodes made on
 * the monitor as lvchain's are), sends the first k messages of the reattach as a stopped run
 * would have, closes the connection, and runs the reattach again. Afterwards QEMU's graph names
 * only the new file, holds its lock on it again, and the guest reads every byte.
 *
 * Then the whole way round, through the CLI: a live delete stopped between the rename and the
 * reattach (the real apply path, its realiser stopping there as a crash would) is planned as a
 * resume with a `reattach` step, and apply finishes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { access, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { QmpClient } from '../../src/engines/qmp/client.js';
import { childrenOf, fileOf, queryNodes } from '../../src/engines/qmp/graph.js';
import { reattachLive, reattachMessages } from '../../src/engines/qmp/rename.js';
import { LocalExecutor } from '../../src/exec/local.js';
import type { ImageSite } from '../../src/engines/engine.js';
import type { LayerRef } from '../../src/model/layer.js';
import type { JsonObject } from '../../src/exec/json-lines.js';
import { DirLab } from '../helpers/dirlab.js';
import { diskConfig } from '../helpers/configs.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { guestView, guestWrite, startStorageDaemon, type StorageDaemon } from '../helpers/storage-daemon.js';
import { Session } from '../../src/pipeline/session.js';
import { fullPlanOptions, makePlan } from '../../src/pipeline/make-plan.js';
import { applyPlan } from '../../src/apply/apply.js';
import type { Realiser } from '../../src/apply/realiser.js';

const MiB = 1024 * 1024;
const DISK = 'vm-960-disk-0';
const WAS: LayerRef = { role: 'snapshot', snap: 's1' };
const NOW: LayerRef = { role: 'snapshot', snap: 's2' };

let dir: string | undefined;
let pid: number | undefined;
let lab: DirLab | undefined;
let qemu: StorageDaemon | undefined;
afterEach(async () => {
  await qemu?.stop();
  qemu = undefined;
  await lab?.dispose();
  lab = undefined;
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    pid = undefined;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A QEMU holding top ← s1, every node made on the monitor; the guest writes through NBD. */
async function running(): Promise<{ site: ImageSite; qmp: string; nbd: string }> {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
  requireTool('qemu-storage-daemon', 'qemu-system-common');
  const d = (dir = await mkdtemp(join(tmpdir(), 'lvchain-reattach-')));
  const file = (ref: LayerRef) =>
    join(d, ref.role === 'snapshot' ? `snap-${ref.snap}-${DISK}.qcow2` : `${DISK}.qcow2`);
  const top = file({ role: 'top' });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file(WAS), String(8 * MiB)]);
  await execa('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x11 0 ${MiB}`, file(WAS)]);
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', file(WAS), '-F', 'qcow2', top]);
  await execa('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x22 ${MiB} ${MiB}`, top]);
  const qmp = join(d, 'qmp.sock');
  const nbd = join(d, 'nbd.sock');
  const pidfile = join(d, 'qsd.pid');
  await execa('qemu-storage-daemon', [
    '--daemonize',
    '--pidfile',
    pidfile,
    '--blockdev',
    `driver=file,node-name=base-file,filename=${file(WAS)}`,
    '--blockdev',
    'driver=qcow2,node-name=base,file=base-file,read-only=on',
    '--blockdev',
    `driver=file,node-name=top-file,filename=${top}`,
    '--blockdev',
    'driver=qcow2,node-name=top,file=top-file,backing=base',
    '--nbd-server',
    `addr.type=unix,addr.path=${nbd}`,
    '--export',
    `type=nbd,id=${DISK},node-name=top,name=${DISK},writable=on`,
    '--chardev',
    `socket,path=${qmp},server=on,wait=off,id=mon0`,
    '--monitor',
    'chardev=mon0',
  ]);
  pid = Number((await readFile(pidfile, 'utf8')).trim());
  const site: ImageSite = {
    kind: 'dir',
    exec: new LocalExecutor(),
    path: (_disk, ref) => file(ref),
    name: (_disk, ref) => file(ref).split('/').at(-1) ?? '',
    protocol: 'file',
  };
  return { site, qmp, nbd: `nbd+unix:///${DISK}?socket=${nbd}` };
}

async function withQmp<T>(site: ImageSite, qmp: string, f: (q: QmpClient) => Promise<T>): Promise<T> {
  const q = await QmpClient.connect(site.exec, qmp);
  try {
    return await f(q);
  } finally {
    q.close();
  }
}

describe('a reattach stopped part way', () => {
  // 0: the file renamed, no message sent; 1–5: stopped after that many; 6: all sent.
  for (const k of [0, 1, 2, 3, 4, 5, 6]) {
    it(`is finished by the next run after ${k} of its 6 messages`, async () => {
      const { site, qmp, nbd } = await running();
      const was = site.path(DISK, WAS);
      const now = site.path(DISK, NOW);
      await rename(was, now);
      await withQmp(site, qmp, async (q) => {
        const { file, backing } = await childrenOf(q, 'base');
        const messages = reattachMessages({ site, now, node: 'base', backing, ro: true }, file);
        expect(messages).toHaveLength(6);
        for (const m of messages.slice(0, k)) await q.execute(m.execute as string, m.arguments as JsonObject);
      });

      await reattachLive(site, { qmp, freeze: 'off' }, DISK, WAS, NOW);

      await withQmp(site, qmp, async (q) => {
        const nodes = await queryNodes(q);
        expect(nodes.filter((n) => fileOf(n) === was).map((n) => n['node-name'])).toEqual([]);
        expect(nodes.filter((n) => n['node-name'].endsWith('-t')).map((n) => n['node-name'])).toEqual([]);
        const base = nodes.find((n) => n['node-name'] === 'base');
        expect(base && fileOf(base)).toBe(now);
        expect(base?.ro).toBe(true);
        const { file } = await childrenOf(q, 'base');
        expect(file).toMatch(/^lvc-[0-9a-f]{16}-r$/);
        // Every node left is in use: the guest's chain, and nothing else.
        expect(nodes.map((n) => n['node-name']).sort()).toEqual(['base', file, 'top', 'top-file'].sort());
        expect((await childrenOf(q, 'top')).backing).toBe('base');
      });
      // QEMU's lock is back on the file under its new name: another writer is refused.
      const writer = await execa('qemu-io', ['-f', 'qcow2', '-c', 'write 0 512', now], { reject: false });
      expect(writer.exitCode, writer.stdout + writer.stderr).not.toBe(0);
      expect(writer.stderr).toMatch(/lock/i);
      // The guest reads what both layers hold, and writes on.
      const guest = await execa(
        'qemu-io',
        [
          '-f',
          'raw',
          '-c',
          `read -P 0x11 0 ${MiB}`,
          '-c',
          `read -P 0x22 ${MiB} ${MiB}`,
          '-c',
          `write -P 0x33 ${2 * MiB} ${MiB}`,
          '-c',
          `read -P 0x33 ${2 * MiB} ${MiB}`,
          nbd,
        ],
        { reject: false },
      );
      expect(guest.exitCode, guest.stdout + guest.stderr).toBe(0);
      expect(guest.stdout).not.toMatch(/Pattern verification failed/);
    });
  }
});

describe('a live delete stopped between the rename and the reattach', () => {
  it('is planned as a resume that reattaches, and apply leaves QEMU naming only files that exist', async () => {
    const l = (lab = await DirLab.create('lvchain-live-reattach-'));
    const disk = 'vm-961-disk-0';
    const size = 16 * MiB;
    const write = (snapshots: string[], vm?: Record<string, unknown>) =>
      l.writeRawConfig(diskConfig({ disk, size: '16MiB', snapshots, ...(vm ? { vm } : {}) }));
    const expected = new ExpectedDisk(size);
    await write(['s1']);
    expect((await l.apply()).exitCode).toBe(0);
    await writePattern(l.top(disk), 0, MiB, 0x41);
    expected.write(0, MiB, 0x41);
    await write(['s1', 's2']);
    expect((await l.apply()).exitCode).toBe(0);
    const s2View = expected.digest();
    await writePattern(l.top(disk), MiB, MiB, 0x42);
    expected.write(MiB, MiB, 0x42);
    const q = (qemu = await startStorageDaemon({ [disk]: l.top(disk) }));
    // Delete s1 by commit: s2's layer goes into s1's, which then takes s2's name under QEMU.
    await write(['s2'], { qmp: q.qmp, freeze: 'off' });

    const session = await Session.open(l.configPath);
    try {
      const options = fullPlanOptions(
        { allowDestroy: false, target: [], mergeDirection: 'commit', allowMassDelete: false },
        Date.now(),
      );
      const { plan, observed } = await makePlan(session, options);
      const stopping = (b: Realiser): Realiser =>
        Object.assign(Object.create(b) as Realiser, {
          execute: async (d: string, step: Parameters<Realiser['execute']>[1]) => {
            if (step.kind === 'rename' && step.from.role === 'snapshot' && step.from.snap === 's1') {
              await b.driver.execute(d, step);
              throw new Error('test: stopped between the rename and the reattach');
            }
            return b.execute(d, step);
          },
        });
      const outcome = await applyPlan(plan, {
        desired: session.desired,
        observed,
        backend: (name) => stopping(session.backend(name)),
        onEvent: () => undefined,
      });
      expect(outcome.failed).toHaveLength(1);
    } finally {
      await session.close();
    }
    const s1 = l.snap(disk, 's1');
    const files = async () =>
      (await q.query<{ file: string }[]>('query-named-block-nodes', { flat: true })).map((n) => fileOf(n));
    expect(await files(), 'the stop left QEMU naming the old name').toContain(s1);

    const planned = await l.run(['plan', '--merge-direction', 'commit']);
    expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toContain('will finish an interrupted operation');
    expect(planned.stdout).toMatch(
      /move the running VM's node of snap-s1-vm-961-disk-0\.qcow2 onto snap-s2-vm-961-disk-0\.qcow2/,
    );
    const applied = await l.run(['apply', '--auto-approve', '--merge-direction', 'commit']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);

    const named = await files();
    expect(named).not.toContain(s1);
    for (const f of named)
      expect(
        await access(f).then(
          () => true,
          () => false,
        ),
        `QEMU names ${f}`,
      ).toBe(true);
    await guestWrite(q.nbd(disk), 2 * MiB, MiB, 0x43);
    expected.write(2 * MiB, MiB, 0x43);
    expect(await guestView(q.nbd(disk))).toBe(expected.digest());
    expect(await viewDigest(l.snap(disk, 's2'))).toBe(s2View);
    await q.stop();
    qemu = undefined;
    const after = await l.run(['plan', '--detailed-exitcode']);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect(await viewDigest(l.top(disk))).toBe(expected.digest());
  });
});
