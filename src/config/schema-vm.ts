/** `vm:` of a guest or disk: how lvchain reaches the running VM (DESIGN §12). */
import { z } from 'zod';
import { typeError } from './schema-words.js';

const socketPath = (what: string) =>
  z.string({ error: typeError(`the absolute path of ${what} on the storage's host`) }).regex(/^\/[^\0\n]*$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not an absolute path; write the path of ${what} on the storage's host`,
  });

export const vm = z
  .strictObject({
    qmp: socketPath("the VM's QMP socket").describe(
      "QEMU's QMP socket (unix), on the host that runs the storage's commands. Lets lvchain change the disks while the VM runs.",
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

export type WrittenVm = z.infer<typeof vm>;
