/** A Proxmox file lvchain cannot read as Proxmox writes it: the message names the file and line. */
import { LvchainError } from '../../base/errors.js';

export function pveFileError(file: string, line: number, problem: string): LvchainError {
  return new LvchainError('proxmox_invalid', `${file}:${line}: ${problem}`, {
    details: { file, line },
  });
}
