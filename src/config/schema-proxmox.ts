/** `proxmox:` of a host: whether it is a Proxmox VE node, and where its cluster file system is (DESIGN §13). */
import { z } from 'zod';
import { typeError } from './schema-words.js';

const EXPECTED = '{} (or { root: /etc/pve }) for a Proxmox VE node, or false for a host that is not one';

export const proxmoxNode = z
  .union(
    [
      z.boolean().refine((v) => !v, { error: typeError(EXPECTED) }),
      z.strictObject({
        root: z
          .string({ error: typeError('an absolute path such as /etc/pve') })
          .regex(/^\/[^\0\n]*$/, {
            error: (iss) => `"${String(iss.input)}" is not an absolute path; write a path such as /etc/pve`,
          })
          .optional()
          .describe("The node's cluster file system (default /etc/pve): storage.cfg, .vmlist, priv/lock/."),
        node: z
          .string({ error: typeError('a Proxmox node name such as pve2') })
          .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/, {
            error: (iss) => `"${String(iss.input)}" is not a Proxmox node name; write a name such as pve2`,
          })
          .optional()
          .describe(
            "Its Proxmox node name (`hostname`): lvchain runs `qm status` here for the VMs the cluster's VM list places on that node. A VM on a node no host names is treated as running.",
          ),
      }),
    ],
    { error: typeError(EXPECTED) },
  )
  .describe(
    'This host is a Proxmox VE node: lvchain takes its cluster storage lock around LVM metadata changes. Absent: detected when /etc/pve exists there; false: never.',
  );
