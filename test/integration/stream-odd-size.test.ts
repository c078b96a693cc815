/**
 * A stream into a disk whose virtual size ends inside a cluster (an adopted or odd-sized disk):
 * the copy must stop at the end of the disk, not at the end of its last cluster.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DirLab } from '../helpers/dirlab.js';
import { ExpectedDisk, viewDigest, writePattern } from '../helpers/data.js';
import { diskConfig } from '../helpers/configs.js';

const DISK = 'vm-941-disk-0';
// 1 MiB and 82944 bytes: the disk ends 82944 bytes into its last 128 KiB cluster.
const SIZE = 1048576 + 82944;
let lab: DirLab;
afterEach(async () => lab.dispose());

describe('a stream at the end of an odd-sized disk', () => {
  it('copies up to the virtual size and every view reads back', async () => {
    lab = await DirLab.create('lvchain-odd-');
    const config = (snapshots: string[]) =>
      lab.writeRawConfig(diskConfig({ disk: DISK, size: `${SIZE}B`, snapshots }));
    await config(['s1']);
    await lab.apply();
    const expected = new ExpectedDisk(SIZE);
    // s1 holds data in the partial last cluster; the top holds some elsewhere.
    await writePattern(lab.snap(DISK, 's1'), 1048576, SIZE - 1048576, 0x61);
    expected.write(1048576, SIZE - 1048576, 0x61);
    await writePattern(lab.top(DISK), 0, 65536, 0x62);
    expected.write(0, 65536, 0x62);
    await config([]);
    const r = await lab.run(['apply', '--auto-approve', '--merge-direction', 'stream']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(await viewDigest(lab.top(DISK))).toBe(expected.digest());
    const again = await lab.run(['plan', '--detailed-exitcode']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });
});
