/** `vm:` of a guest or disk: how lvchain reaches the running VM (DESIGN §12). */
import { z } from 'zod';
import { typeError } from './schema-words.js';

const socketPath = (what: string) =>
  z.string({ error: typeError(`the absolute path of ${what} on the storage's host`) }).regex(/^\/[^\0\n]*$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not an absolute path; write the path of ${what} on the storage's host`,
  });

const qmpVm = z
  .strictObject({
    qmp: socketPath("the VM's QMP socket").describe(
      "QEMU's QMP socket (unix), on the host that runs the storage's commands (reached over ssh through socat there). Lets lvchain change the disks while the VM runs.",
    ),
    agent: socketPath("the VM's guest-agent socket")
      .optional()
      .describe(
        'The guest agent socket (virtio-serial chardev on the host): used to freeze file systems during a snapshot.',
      ),
    freeze: z
      .enum(['required', 'try', 'off'], { error: typeError('required, try or off') })
      .optional()
      .describe(
        'Freeze the guest file systems for a live snapshot: required (refuse without the agent), try (default: fall back to crash-consistent with a warning), off.',
      ),
  })
  .describe('How lvchain reaches the running VM that uses these disks (DESIGN §12).');

const proxmoxVm = z
  .strictObject({
    proxmox: z
      .number({ error: typeError('a VMID, a whole number such as 101') })
      .int({ error: 'must be a VMID, a whole number such as 101' })
      .min(100, { error: 'must be a VMID; Proxmox VMIDs go from 100 to 999999999' })
      .max(999999999, { error: 'must be a VMID; Proxmox VMIDs go from 100 to 999999999' })
      .describe('The VMID of the Proxmox VE VM whose config lists these disks (DESIGN §13).'),
  })
  .describe(
    'A VM that Proxmox VE manages: validate checks its config owns the disks; plan refuses to change them until the Proxmox engine exists.',
  );

export const vm = z.union([qmpVm, proxmoxVm], {
  error: (iss) =>
    typeof iss.input === 'object' && iss.input !== null && !Array.isArray(iss.input)
      ? 'needs either qmp (with optionally agent and freeze) for a VM lvchain reaches itself, or proxmox: <vmid> for a Proxmox VE VM, not both'
      : typeError('a map with qmp: <socket> or proxmox: <vmid>')(iss),
});

export type WrittenVm = z.infer<typeof vm>;
