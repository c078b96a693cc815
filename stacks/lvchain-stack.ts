/**
 * LvchainStack: Terraform drives lvchain. One `terraform_data` per guest and per standalone disk
 * of an lvchain config; its `triggers_replace` is the sha256 of the item's desired spec, so
 * Terraform replaces exactly the items whose spec changed, and the create-time local-exec runs
 * `lvchain apply --target <address> --auto-approve` for each of them.
 *
 * - No destroy-time provisioners, ever: a replace runs the destroy step first, so anything
 *   destructive there would fire on every spec change. Removing an item from the config
 *   removes its Terraform resource and leaves the disk alone; lvchain destroys disks only
 *   with `lvchain apply --allow-destroy`, run by a person.
 * - Items on one storage are chained with depends_on, so Terraform runs one lvchain apply per
 *   storage at a time (lvchain has no cross-process storage lock yet).
 * - Terraform's plan only says "must be replaced": post lvchain's own plan in the PR
 *   (`lvchain plan --markdown`), which shows every merge and deletion with bytes and reasons.
 * - `resourceType: 'null_resource'` uses @cdktf/provider-null for Terraform older than 1.4;
 *   it needs the null provider from a registry or a mirror at `terraform init`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Construct } from 'constructs';
import { DataResource, LocalBackend, TerraformStack } from 'cdktf';
import type { LocalExecProvisioner, TerraformResource } from 'cdktf';
import { provider, resource } from '@cdktf/provider-null';
import { loadConfigText } from '../src/config/load.js';
import { shellCommand } from '../src/base/quote.js';
import { itemSpecs, type ItemSpec } from './spec.js';

export interface LvchainStackProps {
  /** The lvchain config file (resolved against the current directory). */
  config: string;
  /** The lvchain executable the provisioners run (default: `lvchain` on PATH). */
  lvchain?: string;
  /** `terraform_data` (Terraform ≥ 1.4, the default) or `null_resource` for older Terraform. */
  resourceType?: 'terraform_data' | 'null_resource';
  /** Local state file; without it CDKTF's default (terraform.<stack>.tfstate in the synth directory). */
  statePath?: string;
}

/** Terraform's JSON syntax reads `${` and `%{` in strings as templates: keep them literal. */
function literal(s: string): string {
  // A function replacer: in a replacement string, "$$" would mean one "$".
  return s.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

export class LvchainStack extends TerraformStack {
  /** The items declared, in order, with their specs and hashes. */
  readonly items: readonly ItemSpec[];

  constructor(scope: Construct, id: string, props: LvchainStackProps) {
    super(scope, id);
    const config = resolve(props.config);
    // lvchain's own loader: the same validation, errors (file:line:col) and normalisation.
    this.items = itemSpecs(loadConfigText(readFileSync(config, 'utf8'), config).desired);
    if (props.statePath !== undefined) new LocalBackend(this, { path: resolve(props.statePath) });
    const kind = props.resourceType ?? 'terraform_data';
    if (kind === 'null_resource') new provider.NullProvider(this, 'null');
    const bin = props.lvchain ?? 'lvchain';
    const previous = new Map<string, TerraformResource>();
    for (const item of this.items) {
      const provisioner: LocalExecProvisioner = {
        type: 'local-exec',
        command: literal(
          shellCommand([bin, '-c', config, 'apply', '--target', item.address, '--auto-approve']),
        ),
        environment: { LVCHAIN_IN_AUTOMATION: '1', NO_COLOR: '1' },
      };
      const before = previous.get(item.storage);
      const meta = { provisioners: [provisioner], ...(before ? { dependsOn: [before] } : {}) };
      const trigger = { spec_sha256: item.sha256 };
      const r =
        kind === 'terraform_data'
          ? new DataResource(this, item.resourceName, {
              triggersReplace: trigger,
              // Shown in `terraform plan` next to the trigger, so a reviewer sees what changed.
              input: { address: item.address, spec: literal(item.json) },
              ...meta,
            })
          : new resource.Resource(this, item.resourceName, { triggers: trigger, ...meta });
      previous.set(item.storage, r);
    }
  }
}
