/**
 * Resource addresses, Terraform-style: `vg.<storage>`, `disk.<name>`, `guest.<name>`,
 * `snapshot.<disk>@<name>`. Plans, targets, drift and diagnostics all name things by them, so
 * they are built and parsed here only.
 */
import { OBJECT_NAME, SNAPSHOT_NAME } from '../base/names.js';

export type Address =
  | { kind: 'vg'; storage: string }
  | { kind: 'disk'; disk: string }
  | { kind: 'guest'; guest: string }
  | { kind: 'snapshot'; disk: string; snap: string };

export function vgAddress(storage: string): string {
  return `vg.${storage}`;
}

export function diskAddress(disk: string): string {
  return `disk.${disk}`;
}

export function guestAddress(guest: string): string {
  return `guest.${guest}`;
}

export function snapshotAddress(disk: string, snap: string): string {
  return `snapshot.${disk}@${snap}`;
}

/** A snapshot taken or deleted together on a group's disks: `<group>@<name>`. */
export function groupSnapshotId(group: string, snap: string): string {
  return `${group}@${snap}`;
}

/** What a user may name with `--target`. */
export type TargetAddress = Exclude<Address, { kind: 'vg' }>;

/** The name rules of base/names.ts, without their anchors. Disk names are parsed loosely: the config checks them. */
const inner = (rule: RegExp): string => rule.source.slice(1, -1);
const LOOSE_DISK = '[A-Za-z0-9][A-Za-z0-9_.-]*';
const DISK_ADDRESS = new RegExp(`^disk\\.(${LOOSE_DISK})$`);
const GUEST_ADDRESS = new RegExp(`^guest\\.(${inner(OBJECT_NAME)})$`);
const SNAPSHOT_ADDRESS = new RegExp(`^snapshot\\.(${LOOSE_DISK})@(${inner(SNAPSHOT_NAME)})$`);

/** Undefined when the text is not an address a user may write. */
export function parseAddress(text: string): TargetAddress | undefined {
  let m = DISK_ADDRESS.exec(text);
  if (m) return { kind: 'disk', disk: m[1] as string };
  m = GUEST_ADDRESS.exec(text);
  if (m) return { kind: 'guest', guest: m[1] as string };
  m = SNAPSHOT_ADDRESS.exec(text);
  if (m) return { kind: 'snapshot', disk: m[1] as string, snap: m[2] as string };
  return undefined;
}
