/**
 * `.vmlist`, the cluster's VM list that pmxcfs generates:
 * `{"version":N,"ids":{"101":{"node":"pve1","type":"qemu","version":N}}}`.
 */
import { z } from 'zod';
import type { PveVmList } from '../../model/proxmox.js';
import { pveFileError } from './errors.js';

const vmlistSchema = z.object({
  version: z.number().int(),
  ids: z.record(
    z.string().regex(/^[1-9]\d*$/, { error: 'is not a VMID' }),
    z.object({ node: z.string().min(1), type: z.enum(['qemu', 'lxc']), version: z.number().int() }),
  ),
});

export function parseVmList(text: string, file: string): PveVmList {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec(String(e))?.[1];
    const line = at === undefined ? 1 : text.slice(0, Number(at)).split('\n').length;
    throw pveFileError(file, line, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const parsed = vmlistSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    const key = issue?.path[1];
    const line = typeof key === 'string' ? lineOf(text, `"${key}"`) : 1;
    throw pveFileError(file, line, `${where ? `${where}: ` : ''}${issue?.message ?? 'not a VM list'}`);
  }
  return parsed.data;
}

function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  return at < 0 ? 1 : text.slice(0, at).split('\n').length;
}
