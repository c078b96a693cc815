/**
 * The config file as written (DESIGN §4). Normalisation into the Desired model happens in
 * normalize.ts; cross-object rules (unknown storage, a disk in two guests, …) in rules.ts.
 * Key names are a public contract: scripts and docs rely on them.
 */
import { z } from 'zod';
import { DURATION_PATTERN, SIZE_PATTERN } from './units.js';
import {
  DISK_NAME,
  DISK_NAME_MAX,
  OBJECT_NAME,
  OBJECT_NAME_MAX,
  SNAPSHOT_NAME,
  SNAPSHOT_NAME_MAX,
  VG_NAME,
  describeNameRule,
} from './names.js';

const size = z
  .string({ error: 'must be a size such as 32GiB or 512MiB' })
  .regex(SIZE_PATTERN, { error: 'must be a whole number with a binary unit, e.g. 32GiB or 512MiB' })
  .describe('A size with a binary unit: B, KiB, MiB, GiB, TiB.');

const duration = z
  .string({ error: 'must be a duration such as 90m, 36h or 7d' })
  .regex(DURATION_PATTERN, { error: 'must be a duration such as 90m, 36h, 7d or 2w' })
  .describe('A duration: minutes (m), hours (h), days (d) or weeks (w).');

const reserve = z
  .string({ error: 'must be a percentage such as 10% or a size such as 20GiB' })
  .regex(/^(\d{1,2}(\.\d+)?%|\d+\s*(B|KiB|MiB|GiB|TiB|PiB))$/, {
    error: 'must be a percentage below 100% (e.g. 10%) or a size (e.g. 20GiB)',
  })
  .describe('Free space that plans never go below: a percentage of the storage or a size.');

const count = (what: string) =>
  z
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1 (leave the key out to disable the rule)' })
    .max(100_000)
    .describe(what);

export const objectName = (kind: string) =>
  z
    .string()
    .max(OBJECT_NAME_MAX, { error: `${kind} names have at most ${OBJECT_NAME_MAX} characters` })
    .regex(OBJECT_NAME, { error: `${kind} names must be ${describeNameRule('object')}` });

export const diskName = z
  .string()
  .max(DISK_NAME_MAX, { error: `disk names have at most ${DISK_NAME_MAX} characters` })
  .regex(DISK_NAME, { error: `disk names must be ${describeNameRule('disk')}` });

export const snapshotName = z
  .string()
  .max(SNAPSHOT_NAME_MAX, { error: `snapshot names have at most ${SNAPSHOT_NAME_MAX} characters` })
  .regex(SNAPSHOT_NAME, { error: `snapshot names must be ${describeNameRule('snapshot')}` });

const vgName = z
  .string()
  .max(127, { error: 'VG names have at most 127 characters' })
  .regex(VG_NAME, { error: `VG names must be ${describeNameRule('vg')}` })
  .refine((n) => n !== '.' && n !== '..', { error: 'VG names cannot be "." or ".."' });

const sshTarget = z
  .string()
  .regex(/^([A-Za-z_][A-Za-z0-9_.-]*@)?[A-Za-z0-9.:-]+$/, {
    error: 'must be [user@]host with a host name or address (use the object form for a port)',
  })
  .describe('ssh destination: [user@]host');

const host = z
  .strictObject({
    ssh: z.union([
      sshTarget,
      z.strictObject({
        host: z.string().regex(/^[A-Za-z0-9.:-]+$/, { error: 'must be a host name or address' }),
        user: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { error: 'must be a user name' })
          .optional(),
        port: z.number().int().min(1).max(65535).optional(),
        identityFile: z.string().min(1).optional().describe('Private key for ssh -i.'),
        knownHosts: z
          .enum(['strict', 'accept-new', 'off'])
          .optional()
          .describe('Host key policy: strict (default), accept-new, or off (tests only).'),
        knownHostsFile: z.string().min(1).optional(),
      }),
    ]),
  })
  .describe('A machine that runs LVM and qemu-img, reached over ssh. Absent host = local.');

const volumeGroup = z
  .strictObject({
    host: objectName('host').optional().describe('Host that runs LVM for this VG; absent = local.'),
    pvs: z
      .array(z.string().regex(/^\/dev\/[A-Za-z0-9/_.:+-]+$/, { error: 'must be an absolute /dev path' }))
      .min(1)
      .optional()
      .describe('Create the VG on these devices if it is absent, and only if every device is blank.'),
    reserve: reserve.optional().describe('Free space plans never go below (default 5%).'),
    wipe: z
      .enum(['none', 'zeroout-on-free', 'zeroout-on-create'])
      .optional()
      .describe('Zero LVs before removing them, or when creating them (default none).'),
  })
  .describe('An LVM volume group of thick LVs, usually on a SAN LUN.');

const directory = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .refine((p) => !p.includes('\0'), { error: 'must not contain NUL' })
      .describe('Storage root; images live in <path>/images/<vmid>/ (Proxmox dir layout).'),
    reserve: reserve.optional().describe('Free filesystem space plans never go below (default 0).'),
  })
  .describe('A directory of qcow2 files (local disk or NFS mount).');

const retention = z
  .strictObject({
    last: count('Keep the N newest snapshots.').optional(),
    within: duration.optional().describe('Keep every snapshot newer than this.'),
    hourly: count('Keep the newest snapshot of each of the N most recent hours that have one.').optional(),
    daily: count('Keep the newest snapshot of each of the N most recent days that have one.').optional(),
    weekly: count(
      'Keep the newest snapshot of each of the N most recent ISO weeks that have one.',
    ).optional(),
    monthly: count('Keep the newest snapshot of each of the N most recent months that have one.').optional(),
    yearly: count('Keep the newest snapshot of each of the N most recent years that have one.').optional(),
  })
  .describe('A union of keep rules over the auto snapshots (DESIGN §7).');

const policy = z
  .strictObject({
    timezone: z
      .string({ error: 'a policy needs an IANA time zone, e.g. Europe/Berlin' })
      .min(1)
      .describe('IANA time zone for the schedule and calendar buckets. No host default.'),
    schedule: z.string().min(1).optional().describe('Cron expression (5 fields), evaluated in timezone.'),
    retention: retention.optional(),
    maxChainDepth: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Validate refuses a policy that can keep more snapshots than this (default 32).'),
    maxDeletesPerRun: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('A plan that would delete more snapshots than this is refused (default 20).'),
  })
  .describe('A snapshot schedule plus retention rules.');

const pinned = z
  .union([z.null(), z.strictObject({ description: z.string().max(200).optional() })])
  .describe('A pinned snapshot: kept until it is removed from this file.');

const snapshots = z.record(snapshotName, pinned).optional().describe('Pinned snapshots by name.');

const guestDisk = z.strictObject({
  size: size.describe('Virtual size. Growing is supported; shrinking is refused.'),
  protect: z.boolean().optional().describe('Refuse to destroy this disk.'),
});

const guest = z
  .strictObject({
    storage: objectName('storage').describe('Name of a volume group or directory.'),
    policy: objectName('policy').optional(),
    disks: z.record(diskName, guestDisk),
    snapshots,
  })
  .describe('Disks that are snapshotted together under one name and time (one VM).');

const disk = z
  .strictObject({
    storage: objectName('storage').describe('Name of a volume group or directory.'),
    size: size.describe('Virtual size. Growing is supported; shrinking is refused.'),
    protect: z.boolean().optional().describe('Refuse to destroy this disk.'),
    policy: objectName('policy').optional(),
    snapshots,
  })
  .describe('A disk that is not part of a guest.');

export const configSchema = z
  .strictObject({
    version: z.literal(1, { error: 'version must be 1' }),
    hosts: z.record(objectName('host'), host).optional(),
    volumeGroups: z.record(vgName, volumeGroup).optional(),
    directories: z.record(objectName('directory'), directory).optional(),
    policies: z.record(objectName('policy'), policy).optional(),
    guests: z.record(objectName('guest'), guest).optional(),
    disks: z.record(diskName, disk).optional(),
  })
  .describe('lvchain configuration (lvchain.yaml).');

/** The config as written, after schema validation. */
export type WrittenConfig = z.infer<typeof configSchema>;
export type WrittenPolicy = z.infer<typeof policy>;
export type WrittenHost = z.infer<typeof host>;

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }),
    $id: 'https://lvchain.dev/schemas/lvchain.schema.json',
    title: 'lvchain configuration',
  };
}
