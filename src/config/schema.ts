/**
 * The config file as written (DESIGN §4). Normalisation into the Desired model happens in
 * normalize.ts, and so do the cross-object rules (unknown storage, a disk in two guests, …).
 * Key names are a public contract: scripts and docs rely on them.
 */
import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { mergeRate, mergeWindow } from './schema-merge.js';
import { hooks } from './schema-hooks.js';
import { DURATION_PATTERN, SIZE_PATTERN, exactSize, parseDuration, parseSize } from '../base/units.js';
import type { NameKind } from '../base/names.js';
import { describeValue, typeError } from './schema-words.js';
import { adoptPattern, periods } from './schema-policy-fields.js';
import { vm } from './schema-vm.js';
import { proxmoxNode } from './schema-proxmox.js';
import {
  DISK_NAME,
  DISK_NAME_MAX,
  OBJECT_NAME,
  OBJECT_NAME_MAX,
  SNAPSHOT_NAME,
  SNAPSHOT_NAME_MAX,
  VG_NAME,
  VG_NAME_MAX,
  describeNameRule,
  isReservedName,
  nameProblem,
} from '../base/names.js';

export { describeValue } from './schema-words.js';

/** What is wrong with a size value (the same words whether the pattern or the range failed). */
function sizeError(iss: { input?: unknown }): string {
  const r = parseSize(String(iss.input));
  return typeof r === 'number' ? 'must be a whole number with a binary unit, e.g. 32GiB' : r.error;
}

const size = z
  .string({
    error: (iss) =>
      typeof iss.input === 'number'
        ? `${iss.input} has no unit; write the size with a binary unit${Number.isSafeInteger(iss.input) && iss.input > 0 ? ` (${iss.input} bytes is ${exactSize(iss.input)})` : ', e.g. 32GiB or 512MiB'}`
        : `must be a size such as 32GiB or 512MiB, not ${describeValue(iss.input)}`,
  })
  .regex(SIZE_PATTERN, { abort: true, error: sizeError })
  .refine((v) => typeof parseSize(v) === 'number', { error: sizeError })
  .describe('A size with a binary unit: B, KiB, MiB, GiB, TiB, PiB.');

const duration = z
  .string({ error: typeError('a duration such as 90m, 36h, 7d or 2w') })
  .regex(DURATION_PATTERN, {
    error: (iss) => {
      const r = parseDuration(String(iss.input));
      return typeof r === 'number' ? 'must be a duration such as 90m, 36h, 7d or 2w' : r.error;
    },
  })
  .describe('A duration: minutes (m), hours (h), days (d) or weeks (w).');

const RESERVE_PATTERN = /^(\d{1,2}(\.\d+)?%|\d+\s*(B|KiB|MiB|GiB|TiB|PiB))$/;

function reserveProblem(text: string): string {
  const percent = /^\s*([+-]?\d+(\.\d+)?)\s*%\s*$/.exec(text);
  if (percent) {
    return Number(percent[1]) < 0
      ? `"${text}" is negative; a reserve is a percentage from 0% to below 100%, e.g. 10%`
      : `"${text}" is not below 100%; a reserve keeps part of the storage free, e.g. 10%`;
  }
  if (/^\s*[+-]?\d*\.?\d+\s*[A-Za-z]+\s*$/.test(text)) {
    const r = parseSize(text);
    if (typeof r !== 'number') return r.error;
  }
  return `"${text}" is neither a percentage (e.g. 10%) nor a size (e.g. 20GiB)`;
}

const reserve = z
  .string({ error: typeError('a percentage such as 10% or a size such as 20GiB') })
  .regex(RESERVE_PATTERN, { abort: true, error: (iss) => reserveProblem(String(iss.input)) })
  .refine((v) => v.endsWith('%') || typeof parseSize(v) === 'number', {
    error: (iss) => reserveProblem(String(iss.input)),
  })
  .describe('Free space that plans never go below: a percentage of the storage or a size.');

const count = (what: string) =>
  z
    .number({ error: typeError('a whole number') })
    .int({ error: (iss) => `must be a whole number, not ${String(iss.input)}` })
    .min(1, { error: 'must be at least 1 (leave the key out to disable the rule)' })
    .max(100_000, { error: 'must be at most 100000' })
    .describe(what);

/** What is wrong with a name; `label` replaces the generic "object" (host, storage, …). */
const nameError =
  (kind: NameKind, label: string = kind) =>
  (iss: { input?: unknown }) =>
    (nameProblem(kind, String(iss.input)) ?? `${kind} names must be ${describeNameRule(kind)}`).replace(
      /^object names/,
      `${label} names`,
    );

export const objectName = (kind: string) =>
  z
    .string({ error: typeError(`a ${kind} name`) })
    .max(OBJECT_NAME_MAX, { error: nameError('object', kind) })
    .regex(OBJECT_NAME, { error: nameError('object', kind) })
    .refine((n) => !isReservedName(n), { error: nameError('object', kind) });

export const diskName = z
  .string()
  .max(DISK_NAME_MAX, { error: nameError('disk') })
  .regex(DISK_NAME, { error: nameError('disk') })
  .refine((n) => !isReservedName(n), { error: nameError('disk') });

export const snapshotName = z
  .string()
  .max(SNAPSHOT_NAME_MAX, { error: nameError('snapshot') })
  .regex(SNAPSHOT_NAME, { error: nameError('snapshot') })
  .refine((n) => !isReservedName(n), { error: nameError('snapshot') });

const vgName = z
  .string()
  .max(VG_NAME_MAX, { error: nameError('vg') })
  .regex(VG_NAME, { error: nameError('vg') })
  .refine((n) => n !== '.' && n !== '..', { error: 'VG names cannot be "." or ".."' })
  .refine((n) => !isReservedName(n), { error: nameError('vg') });

/** A host name or address that ssh cannot mistake for an option. */
const SSH_HOST = /^[A-Za-z0-9.:][A-Za-z0-9.:-]*$/;
const SSH_USER = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function sshProblem(text: string): string {
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const host = at >= 0 ? text.slice(at + 1) : text;
  if (user !== undefined && !SSH_USER.test(user)) {
    return `"${text}" is not [user@]host: "${user}" is not a user name`;
  }
  if (host === '') return `"${text}" is not [user@]host: the host is missing`;
  if (host.startsWith('-')) return `"${text}" is not [user@]host: a host cannot start with "-"`;
  const port = /^(.*[^:]):(\d+)$/.exec(host);
  if (port && !isIPv6(host)) {
    return `"${text}" is not [user@]host: ":${port[2]}" looks like a port; write ssh as a map with host: ${port[1]} and port: ${port[2]}`;
  }
  if (host.includes(':') && !isIPv6(host))
    return `"${text}" is not [user@]host: "${host}" is neither a host name nor an IPv6 address`;
  const bad = [...host].find((ch) => !/[A-Za-z0-9.:-]/.test(ch));
  if (bad !== undefined) {
    return `"${text}" is not [user@]host: the host cannot contain ${bad === ' ' ? 'a space' : `"${bad}"`}`;
  }
  return `"${text}" is not [user@]host`;
}

/** A colon is only part of an IPv6 address; `host:22` is a port in the wrong place. */
const hostWithoutPort = (text: string) =>
  !text.slice(text.lastIndexOf('@') + 1).includes(':') || isIPv6(text.slice(text.lastIndexOf('@') + 1));

/** Paths are passed to ssh as arguments; NUL cannot be, and line breaks only confuse. */
const optionPath = (what: string) =>
  z
    .string({ error: typeError(what) })
    .min(1, { error: `must not be empty; write ${what}` })
    .refine((p) => ![...p].some((ch) => ch < ' ' || ch === '\x7f'), {
      error: (iss) =>
        `must not contain control characters such as NUL or a line break (${JSON.stringify(iss.input)})`,
    });

const sshTarget = z
  .string()
  .regex(/^([A-Za-z_][A-Za-z0-9_.-]*@)?[A-Za-z0-9.:][A-Za-z0-9.:-]*$/, {
    abort: true,
    error: (iss) => sshProblem(String(iss.input)),
  })
  .refine(hostWithoutPort, { error: (iss) => sshProblem(String(iss.input)) })
  .describe('ssh destination: [user@]host');

const host = z
  .strictObject({
    ssh: z.union(
      [
        sshTarget,
        z.strictObject({
          host: z
            .string({ error: typeError('a host name or address') })
            .regex(SSH_HOST, {
              abort: true,
              error: (iss) =>
                sshProblem(String(iss.input)).replace(
                  ' is not [user@]host',
                  ' is not a host name or address',
                ),
            })
            .refine(hostWithoutPort, {
              error: (iss) =>
                sshProblem(String(iss.input))
                  .replace(' is not [user@]host', ' is not a host name or address')
                  .replace('write ssh as a map with host: ', 'write host: '),
            }),
          user: z
            .string({ error: typeError('a user name') })
            .regex(SSH_USER, { error: (iss) => `"${String(iss.input)}" is not a user name` })
            .optional(),
          port: z
            .number({ error: typeError('a port number from 1 to 65535') })
            .int({ error: 'must be a port number from 1 to 65535' })
            .min(1, { error: 'must be a port number from 1 to 65535' })
            .max(65535, {
              error: (iss) => `${String(iss.input)} is not a port number; ports go from 1 to 65535`,
            })
            .optional(),
          identityFile: optionPath('the path of a private key')
            .optional()
            .describe('Private key for ssh -i.'),
          knownHosts: z
            .enum(['strict', 'accept-new', 'off'])
            .optional()
            .describe('Host key policy: strict (default), accept-new, or off (tests only).'),
          knownHostsFile: optionPath('the path of a known_hosts file').optional(),
        }),
      ],
      { error: typeError('"user@host" or a map with host and optionally user, port, identityFile') },
    ),
    proxmox: proxmoxNode.optional(),
  })
  .describe('A machine that runs LVM and qemu-img, reached over ssh. Absent host = local.');

const volumeGroup = z
  .strictObject({
    host: objectName('host').optional().describe('Host that runs LVM for this VG; absent = local.'),
    pvs: z
      .array(
        z
          .string({ error: typeError('a device path such as /dev/sdb') })
          .regex(/^\/dev\/[A-Za-z0-9/_.:+-]+$/, {
            error: (iss) =>
              `"${String(iss.input)}" is not a device: pvs must be absolute /dev paths such as /dev/sdb`,
          }),
        { error: typeError('a list of device paths, e.g. [/dev/sdb]') },
      )
      .min(1, { error: 'must list at least one device (or leave pvs out to use an existing VG)' })
      .optional()
      .describe('Create the VG on these devices if it is absent, and only if every device is blank.'),
    reserve: reserve.optional().describe('Free space plans never go below (default 5%).'),
    wipe: z
      .enum(['none', 'zeroout-on-free', 'zeroout-on-create'], {
        error: (iss) =>
          `${typeof iss.input === 'string' ? JSON.stringify(iss.input) : describeValue(iss.input)} is not a wipe mode; use none, zeroout-on-free or zeroout-on-create`,
      })
      .optional()
      .describe('Zero LVs before removing them, or when creating them (default none).'),
    mergeRate: mergeRate.optional(),
  })
  .describe('An LVM volume group of thick LVs, usually on a SAN LUN.');

const directory = z
  .strictObject({
    path: z
      .string({ error: typeError('a directory path') })
      .min(1, { error: 'must not be empty; write a directory path such as /srv/lvchain or ./store' })
      .refine((p) => !p.includes('\0'), { error: 'must not contain NUL' })
      .describe('Storage root; images live in <path>/images/<vmid>/ (Proxmox dir layout).'),
    reserve: reserve.optional().describe('Free filesystem space plans never go below (default 0).'),
    mergeRate: mergeRate.optional(),
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
      .string({ error: typeError('an IANA time zone such as Europe/Berlin') })
      .min(1, { error: 'must not be empty; write an IANA time zone such as Europe/Berlin or UTC' })
      .describe('IANA time zone for the schedule and calendar buckets. No host default.'),
    schedule: z
      .string({ error: typeError('a cron expression in quotes, e.g. "0 * * * *"') })
      .min(1, { error: 'must not be empty; write a cron expression such as "0 * * * *"' })
      .optional()
      .describe('Cron expression (5 fields), evaluated in timezone.'),
    retention: retention.optional(),
    maxChainDepth: z
      .number({ error: typeError('a whole number from 1 to 1000') })
      .int({ error: 'must be a whole number from 1 to 1000' })
      .min(1, { error: 'must be a whole number from 1 to 1000' })
      .max(1000, { error: 'must be a whole number from 1 to 1000' })
      .optional()
      .describe('Validate refuses a policy that can keep more snapshots than this (default 32).'),
    mergeWindow: mergeWindow.optional(),
    hooks: hooks.optional(),
    adopt: adoptPattern.optional(),
    maxDeletesPerRun: z
      .number({ error: typeError('a whole number of at least 1') })
      .int({ error: 'must be a whole number of at least 1' })
      .min(1, { error: 'must be a whole number of at least 1' })
      .optional()
      .describe('A plan that would delete more snapshots than this is refused (default 20).'),
    check: z
      .strictObject({
        warn: periods.optional().describe('WARNING past this many schedule periods (default 1.5).'),
        crit: periods.optional().describe('CRITICAL past this many schedule periods (default 3).'),
      })
      .optional()
      .describe(
        "When `lvchain check` calls the newest snapshot late, in schedule periods (like sanoid's warn and crit).",
      ),
  })
  .describe('A snapshot schedule plus retention rules.');

const pinned = z
  .union(
    [
      z.null(),
      z.strictObject({
        description: z
          .string({ error: typeError('text') })
          .max(200, { error: 'must be at most 200 characters' })
          .optional(),
      }),
    ],
    { error: typeError('{} or a map with a description, e.g. pre-upgrade: { description: before 9.1 }') },
  )
  .describe('A pinned snapshot: kept until it is removed from this file.');

const snapshots = z.record(snapshotName, pinned).optional().describe('Pinned snapshots by name.');

const guestDisk = z.strictObject({
  size: size.describe('Virtual size. Growing is supported; shrinking is refused.'),
  protect: z
    .boolean({ error: typeError('true or false') })
    .optional()
    .describe('Refuse to destroy this disk.'),
});

const guest = z
  .strictObject({
    storage: objectName('storage').describe('Name of a volume group or directory.'),
    policy: objectName('policy').optional(),
    disks: z.record(diskName, guestDisk),
    snapshots,
    vm: vm.optional(),
  })
  .describe('Disks that are snapshotted together under one name and time (one VM).');

const disk = z
  .strictObject({
    storage: objectName('storage').describe('Name of a volume group or directory.'),
    size: size.describe('Virtual size. Growing is supported; shrinking is refused.'),
    protect: z
      .boolean({ error: typeError('true or false') })
      .optional()
      .describe('Refuse to destroy this disk.'),
    policy: objectName('policy').optional(),
    snapshots,
    vm: vm.optional(),
  })
  .describe('A disk that is not part of a guest.');

export const configSchema = z
  .strictObject({
    version: z.literal(1, {
      error: (iss) =>
        typeof iss.input === 'string' && iss.input.trim() === '1'
          ? 'must be the number 1, not the string "1"'
          : `must be 1 (the only config version), not ${describeValue(iss.input)}`,
    }),
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
