/**
 * What the directory storage steps do, as the plan shows them. They run in lvchain itself
 * (sidecar writes, renames, unlinks), so their commands are in-process descriptions.
 */
import type { LayerRef } from '../../model/layer.js';
import type { PlannedStep } from '../../model/plan.js';
import { LvchainError } from '../../base/errors.js';
import type { StorageStep } from '../driver.js';
import { setMetaVerb } from '../set-meta.js';
import { layerFileName, sidecarName, TRASH_DIR } from './layout.js';

export function describeDirStep(
  storage: string,
  disk: string,
  step: StorageStep,
): Pick<PlannedStep, 'description' | 'commands'> {
  const name = (ref: LayerRef) => layerFileName(disk, ref);
  const inProcess = (description: string) => [{ kind: 'in_process' as const, description }];
  switch (step.kind) {
    case 'set_meta':
      return {
        description: `${setMetaVerb(step.purpose)} ${name(step.layer)}`,
        commands: inProcess(`write the entry of ${name(step.layer)} in ${sidecarName(disk)}`),
      };
    case 'allocate':
      return {
        description: `allocate ${name(step.layer)} (sidecar entry and empty file)`,
        commands: inProcess(`add ${name(step.layer)} to ${sidecarName(disk)}, then create it empty`),
      };
    case 'wipe':
      throw new LvchainError('plan_invalid', `wipe is not available on directory storage ${storage}`);
    case 'extend':
      return { description: `${name(step.layer)} grows as a file; nothing to extend`, commands: [] };
    case 'rename':
      return {
        description: `rename ${name(step.from)} to ${name(step.to)}`,
        commands: inProcess(
          `copy the entry of ${name(step.from)} to ${name(step.to)} in ${sidecarName(disk)}, rename the file, drop the old entry`,
        ),
      };
    case 'remove':
      return {
        description: `remove ${name(step.layer)}`,
        commands: inProcess(
          `move ${name(step.layer)} into ${TRASH_DIR} (its blocks are freed in the background), then drop its entry in ${sidecarName(disk)}`,
        ),
      };
    case 'create_vg':
      throw new LvchainError('plan_invalid', `${storage} is a directory, not a volume group`);
  }
}
