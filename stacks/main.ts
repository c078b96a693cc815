/**
 * The CDKTF app: `npm run synth --prefix stacks` (or `cdktf synth`, which runs this through
 * cdktf.json) writes cdktf.out/stacks/lvchain/cdk.tf.json. Settings come from the environment:
 *   LVCHAIN_CONFIG    the lvchain config (default ../lvchain.yaml, from stacks/)
 *   LVCHAIN_BIN       the lvchain executable the provisioners run (default lvchain)
 *   LVCHAIN_RESOURCE  terraform_data (default) or null_resource (Terraform older than 1.4)
 *   LVCHAIN_TF_STATE  the local state file (default: CDKTF's terraform.lvchain.tfstate here)
 *   CDKTF_OUTDIR      where to write (default cdktf.out)
 */
import { App } from 'cdktf';
import { LvchainStack } from './lvchain-stack.js';

const env = process.env;
const app = new App();
new LvchainStack(app, 'lvchain', {
  config: env['LVCHAIN_CONFIG'] ?? '../lvchain.yaml',
  lvchain: env['LVCHAIN_BIN'] ?? 'lvchain',
  resourceType: env['LVCHAIN_RESOURCE'] === 'null_resource' ? 'null_resource' : 'terraform_data',
  ...(env['LVCHAIN_TF_STATE'] ? { statePath: env['LVCHAIN_TF_STATE'] } : {}),
});
app.synth();
