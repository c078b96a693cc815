/** The example configs the docs walk through are valid as shipped. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { lvchain, REPO } from '../helpers/cli.js';

describe('example configs', () => {
  it.each(['quickstart.yaml', 'san-cluster.yaml'])('examples/%s validates', async (file) => {
    const r = await lvchain(['-c', join(REPO, 'examples', file), 'validate']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('The configuration is valid');
  });

  it('the SAN example states the up-front cost on thick LVM that docs/san.md explains', async () => {
    const r = await lvchain(['-c', join(REPO, 'examples', 'san-cluster.yaml'), 'validate']);
    expect(r.stdout).toMatch(
      /storage vg_san1: the declared disks take up to 19\.6 TiB once their policies keep every snapshot they allow; thick LVM allocates each LV in full when it is made, so this is paid up front/,
    );
  });
});
