/**
 * Issue 6, acceptance 4: `Testing.synth` of LvchainStack: one resource per guest and standalone
 * disk, a replace trigger that is the sha256 of exactly that item's spec, the provisioner
 * commands, no destroy-time provisioner, and the null_resource variant. Pure JS, no terraform.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { LvchainStack, type LvchainStackProps } from '../lvchain-stack.js';
import { ConfigError } from '../../src/base/errors.js';

interface Synthed {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  terraform?: { required_providers?: Record<string, unknown> };
}

const CONFIG = `version: 1
directories:
  lab: { path: ./store }
  nfs: { path: ./nfs }
policies:
  daily:
    timezone: Europe/Berlin
    schedule: "0 3 * * *"
    retention: { daily: 7 }
guests:
  web-900:
    storage: lab
    policy: daily
    disks:
      vm-900-disk-0: { size: 64MiB }
      vm-900-disk-1: { size: 32MiB, protect: true }
    snapshots:
      pre-upgrade: {}
disks:
  vm-901-disk-0: { storage: lab, size: 48MiB }
  vm-902-disk-0: { storage: nfs, size: 1GiB }
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lvchain-synth-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function synth(
  text: string,
  props: Partial<LvchainStackProps> = {},
  file = 'lvchain.yaml',
): Promise<{ json: string; parsed: Synthed; stack: LvchainStack }> {
  const config = join(dir, file);
  await writeFile(config, text);
  const stack = new LvchainStack(Testing.app(), 'test', {
    config,
    lvchain: '/opt/lvchain/bin/lvchain',
    ...props,
  });
  const json = Testing.synth(stack);
  return { json, parsed: JSON.parse(json) as Synthed, stack };
}

const triggers = (s: Synthed) =>
  Object.fromEntries(
    Object.entries(s.resource['terraform_data'] ?? {}).map(([name, r]) => [
      name,
      (r['triggers_replace'] as { spec_sha256: string }).spec_sha256,
    ]),
  );

describe('LvchainStack synth', () => {
  it('declares one terraform_data per guest and per standalone disk', async () => {
    const { json, parsed } = await synth(CONFIG);
    expect(Object.keys(parsed.resource)).toEqual(['terraform_data']);
    expect(Object.keys(parsed.resource['terraform_data'] ?? {}).sort()).toEqual([
      'disk_vm-901-disk-0',
      'disk_vm-902-disk-0',
      'guest_web-900',
    ]);
    expect(Testing.toHaveResource(json, 'terraform_data')).toBe(true);
    expect(Testing.toHaveResource(json, 'null_resource')).toBe(false);
    // terraform_data is built in: no provider to download at init.
    expect(parsed.terraform?.required_providers).toBeUndefined();
  });

  it('triggers a replace on the sha256 of exactly the item spec, shown in input', async () => {
    const { parsed, json } = await synth(CONFIG);
    const guest = parsed.resource['terraform_data']?.['guest_web-900'] ?? {};
    const input = guest['input'] as { address: string; spec: string };
    expect(input.address).toBe('guest.web-900');
    const spec = JSON.parse(input.spec) as Record<string, unknown>;
    expect(spec).toEqual({
      kind: 'guest',
      name: 'web-900',
      disks: [
        { name: 'vm-900-disk-0', size: 64 * 1024 * 1024, protect: false },
        { name: 'vm-900-disk-1', size: 32 * 1024 * 1024, protect: true },
      ],
      pinned: ['pre-upgrade'],
      policy: {
        name: 'daily',
        timezone: 'Europe/Berlin',
        schedule: '0 3 * * *',
        retention: { daily: 7 },
        maxChainDepth: expect.any(Number),
        maxDeletesPerRun: expect.any(Number),
        check: { warn: 1.5, crit: 3 },
      },
      storage: { kind: 'dir', name: 'lab', path: 'store', reserve: { kind: 'bytes', value: 0 } },
    });
    const sha = createHash('sha256').update(input.spec).digest('hex');
    expect(guest['triggers_replace']).toEqual({ spec_sha256: sha });
    expect(
      Testing.toHaveResourceWithProperties(json, 'terraform_data', { triggersReplace: { spec_sha256: sha } }),
    ).toBe(true);
  });

  it('runs lvchain apply for the item at create time only, one apply per storage at a time', async () => {
    const { parsed } = await synth(CONFIG);
    const res = parsed.resource['terraform_data'] ?? {};
    const config = join(dir, 'lvchain.yaml');
    for (const [name, address] of [
      ['guest_web-900', 'guest.web-900'],
      ['disk_vm-901-disk-0', 'disk.vm-901-disk-0'],
      ['disk_vm-902-disk-0', 'disk.vm-902-disk-0'],
    ] as const) {
      expect(res[name]?.['provisioner']).toEqual([
        {
          'local-exec': {
            command: `/opt/lvchain/bin/lvchain -c ${config} apply --target ${address} --auto-approve`,
            environment: { LVCHAIN_IN_AUTOMATION: '1', NO_COLOR: '1' },
          },
        },
      ]);
    }
    // No destroy-time provisioner anywhere: a replace would fire it on every spec change.
    expect(JSON.stringify(parsed)).not.toMatch(/"when"/);
    // lab: web-900 then vm-901; nfs: vm-902 alone.
    expect(res['guest_web-900']?.['depends_on']).toBeUndefined();
    expect(res['disk_vm-901-disk-0']?.['depends_on']).toEqual(['terraform_data.guest_web-900']);
    expect(res['disk_vm-902-disk-0']?.['depends_on']).toBeUndefined();
  });

  it('keeps hashes for edits lvchain does not see, and changes only the edited item', async () => {
    const before = triggers((await synth(CONFIG)).parsed);
    const reformatted = `# reviewed in PR 12\n${CONFIG.replace(
      '{ size: 64MiB }',
      '{ size: 65536KiB }',
    ).replace(
      'vm-901-disk-0: { storage: lab, size: 48MiB }',
      'vm-901-disk-0: { size: 48MiB, storage: lab } # moved keys',
    )}`;
    expect(triggers((await synth(reformatted)).parsed)).toEqual(before);
    const pinned = CONFIG.replace(
      'vm-901-disk-0: { storage: lab, size: 48MiB }',
      'vm-901-disk-0: { storage: lab, size: 48MiB, snapshots: { pre-patch: {} } }',
    );
    const after = triggers((await synth(pinned)).parsed);
    const changed = Object.keys(before).filter((k) => before[k] !== after[k]);
    expect(changed).toEqual(['disk_vm-901-disk-0']);
    // A policy change reaches every item that uses the policy, and only those.
    const policy = triggers((await synth(CONFIG.replace('daily: 7', 'daily: 14'))).parsed);
    expect(Object.keys(before).filter((k) => before[k] !== policy[k])).toEqual(['guest_web-900']);
  });

  it('quotes the command for the shell and keeps ${ literal for Terraform', async () => {
    const { parsed, stack } = await synth(CONFIG, { lvchain: 'lvchain' }, 'my ${env} config.yaml');
    const cmd = (
      parsed.resource['terraform_data']?.['disk_vm-901-disk-0']?.['provisioner'] as {
        'local-exec': { command: string };
      }[]
    )[0]?.['local-exec'].command;
    expect(cmd).toBe(
      `lvchain -c '${join(dir, 'my $${env} config.yaml')}' apply --target disk.vm-901-disk-0 --auto-approve`,
    );
    expect(stack.items.map((i) => i.address)).toEqual([
      'guest.web-900',
      'disk.vm-901-disk-0',
      'disk.vm-902-disk-0',
    ]);
  });

  it('offers null_resource from @cdktf/provider-null for Terraform older than 1.4', async () => {
    const { parsed, json } = await synth(CONFIG, { resourceType: 'null_resource' });
    expect(Object.keys(parsed.resource)).toEqual(['null_resource']);
    const nul = parsed.resource['null_resource'] ?? {};
    expect(Object.keys(nul).sort()).toEqual(['disk_vm-901-disk-0', 'disk_vm-902-disk-0', 'guest_web-900']);
    const tdata = triggers((await synth(CONFIG)).parsed);
    for (const [name, r] of Object.entries(nul)) {
      expect(r['triggers']).toEqual({ spec_sha256: tdata[name] });
      expect(r['provisioner']).toHaveLength(1);
    }
    expect(parsed.terraform?.required_providers).toEqual({ null: { source: 'null', version: '3.2.4' } });
    expect(Testing.toHaveProvider(json, 'null')).toBe(true);
  });

  it("reports config errors with lvchain's own messages", async () => {
    await expect(synth(CONFIG.replace('size: 48MiB', 'size: 48MB'))).rejects.toBeInstanceOf(ConfigError);
  });
});
