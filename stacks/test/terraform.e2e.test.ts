/**
 * Issue 6, acceptance 3: Terraform end to end with the real terraform binary, offline. Synth
 * the stack; `terraform init` (terraform_data needs no provider download) and `apply` create
 * the chains on a directory storage through lvchain; a second apply changes nothing; pinning a
 * snapshot in the YAML makes `terraform plan` replace exactly one resource, and apply takes it.
 * Without terraform the test fails and says so: it is never skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';

const HERE = dirname(fileURLToPath(import.meta.url));

const STACKS = join(HERE, '..');
const CLI = join(STACKS, '..', 'dist', 'cli', 'index.js');

function requireTerraform(): string {
  const r = execaSync('sh', ['-c', 'command -v terraform'], { reject: false });
  if (r.exitCode !== 0 || !r.stdout)
    throw new Error(
      'terraform is not installed, and this test needs the real binary: the machine image has /usr/local/bin/terraform 1.11.4. Install Terraform ≥ 1.4 on PATH (or set TERRAFORM_BINARY_NAME).',
    );
  return String(r.stdout).trim();
}

const CONFIG = (pins: string) => `version: 1
directories:
  lab: { path: ./store }
guests:
  web-900:
    storage: lab
    disks:
      vm-900-disk-0: { size: 64MiB }
    snapshots:
      pre-upgrade: {}
disks:
  vm-901-disk-0:
    storage: lab
    size: 48MiB
${pins}`;

describe('Terraform drives lvchain through the CDKTF stack', () => {
  let dir: string;
  let terraform: string;
  let tfdir: string;
  let env: Record<string, string>;

  const tf = async (args: string[]) => {
    const r = await execa(terraform, args, { cwd: tfdir, env, extendEnv: false, reject: false });
    return { code: r.exitCode ?? -1, out: `${String(r.stdout)}\n${String(r.stderr)}` };
  };
  const synth = async () => {
    await execa(join(STACKS, 'node_modules', '.bin', 'tsx'), ['main.ts'], {
      cwd: STACKS,
      env: {
        ...env,
        LVCHAIN_CONFIG: join(dir, 'lvchain.yaml'),
        LVCHAIN_BIN: join(dir, 'bin', 'lvchain'),
        LVCHAIN_TF_STATE: join(dir, 'terraform.tfstate'),
        CDKTF_OUTDIR: join(dir, 'cdktf.out'),
      },
      extendEnv: false,
    });
  };
  const lvchainPlan = () =>
    execa('node', [CLI, '-c', join(dir, 'lvchain.yaml'), 'plan', '--detailed-exitcode'], {
      env,
      extendEnv: false,
      reject: false,
    });

  beforeAll(async () => {
    terraform = process.env['TERRAFORM_BINARY_NAME'] ?? requireTerraform();
    dir = await mkdtemp(join(tmpdir(), 'lvchain-tf-'));
    tfdir = join(dir, 'cdktf.out', 'stacks', 'lvchain');
    await mkdir(join(dir, 'bin'));
    const shim = join(dir, 'bin', 'lvchain');
    await writeFile(shim, `#!/bin/sh\nexec node ${JSON.stringify(CLI)} "$@"\n`);
    await chmod(shim, 0o755);
    // An empty CLI config (the machine's TF_CLI_CONFIG_FILE points at a missing file); no
    // checkpoint calls; nothing from an outer CI.
    await writeFile(join(dir, 'terraformrc'), '');
    env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      TMPDIR: dir,
      TF_CLI_CONFIG_FILE: join(dir, 'terraformrc'),
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      NO_COLOR: '1',
    };
    await writeFile(join(dir, 'lvchain.yaml'), CONFIG(''));
    await synth();
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('initialises offline and creates the chains with terraform apply', async () => {
    const init = await tf(['init', '-input=false', '-no-color']);
    expect(init.out).toContain('Terraform has been successfully initialized');
    expect(init.code).toBe(0);
    const apply = await tf(['apply', '-auto-approve', '-input=false', '-no-color']);
    expect(apply.out).toContain('Apply complete! Resources: 2 added, 0 changed, 0 destroyed.');
    expect(apply.code).toBe(0);
    // The local-exec ran lvchain for each item, targeted.
    expect(apply.out).toMatch(/terraform_data\.guest_web-900 \(local-exec\): .*--target guest\.web-900/);
    const store = join(dir, 'store', 'images');
    expect(existsSync(join(store, '900', 'vm-900-disk-0.qcow2'))).toBe(true);
    expect(existsSync(join(store, '900', 'snap-pre-upgrade-vm-900-disk-0.qcow2'))).toBe(true);
    expect(existsSync(join(store, '901', 'vm-901-disk-0.qcow2'))).toBe(true);
    expect((await lvchainPlan()).exitCode).toBe(0);
  });

  it('changes nothing on a second apply', async () => {
    const apply = await tf(['apply', '-auto-approve', '-input=false', '-no-color']);
    expect(apply.code).toBe(0);
    expect(apply.out).toContain('No changes.');
    expect(apply.out).toContain('Apply complete! Resources: 0 added, 0 changed, 0 destroyed.');
  });

  it('replaces exactly one resource when a snapshot is pinned, and apply takes it', async () => {
    await writeFile(join(dir, 'lvchain.yaml'), CONFIG('    snapshots:\n      pre-patch: {}\n'));
    await synth();
    const plan = await tf(['plan', '-input=false', '-no-color', '-detailed-exitcode', '-out', 'tfplan']);
    expect(plan.code).toBe(2);
    expect(plan.out).toContain('Plan: 1 to add, 0 to change, 1 to destroy.');
    expect(plan.out).toContain('# terraform_data.disk_vm-901-disk-0 must be replaced');
    const show = await tf(['show', '-json', 'tfplan']);
    const changes = (
      JSON.parse(show.out.trim()) as {
        resource_changes: { address: string; change: { actions: string[] } }[];
      }
    ).resource_changes.filter((c) => c.change.actions.join() !== 'no-op');
    expect(changes).toEqual([
      expect.objectContaining({
        address: 'terraform_data.disk_vm-901-disk-0',
        change: expect.objectContaining({ actions: ['delete', 'create'] }),
      }),
    ]);
    // lvchain's own plan is what reviewers should read: it names the snapshot.
    const preview = await lvchainPlan();
    expect(preview.exitCode).toBe(2);
    expect(String(preview.stdout)).toContain('snapshot.vm-901-disk-0@pre-patch will be created');
    const apply = await tf(['apply', '-input=false', '-no-color', 'tfplan']);
    expect(apply.out).toContain('Apply complete! Resources: 1 added, 0 changed, 1 destroyed.');
    expect(apply.code).toBe(0);
    expect(existsSync(join(dir, 'store', 'images', '901', 'snap-pre-patch-vm-901-disk-0.qcow2'))).toBe(true);
    expect((await lvchainPlan()).exitCode).toBe(0);
    const state = JSON.parse(await readFile(join(dir, 'terraform.tfstate'), 'utf8')) as {
      resources: unknown[];
    };
    expect(state.resources).toHaveLength(2);
  });
});
