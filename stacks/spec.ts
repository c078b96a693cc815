/**
 * The desired spec of each item the stack declares, one per guest and one per standalone disk,
 * from lvchain's own normalised config (no second copy of the config rules). The spec is what
 * `lvchain apply --target <address>` would act on: the disks, their sizes, protection and pinned
 * snapshots, plus the storage, host and policy definitions they use. Its sha256 is the
 * resource's replace trigger, so an edit that changes nothing for lvchain (a comment, key order,
 * 32GiB written as 32768MiB) changes no hash.
 */
import { createHash } from 'node:crypto';
import { dirname, relative } from 'node:path';
import type { Desired, DesiredStorage } from '../src/model/desired.js';

export interface ItemSpec {
  /** lvchain's target address: `guest.<name>` or `disk.<name>`. */
  address: string;
  /** The Terraform resource name: the address with characters Terraform refuses replaced. */
  resourceName: string;
  storage: string;
  /** Canonical JSON of the spec (sorted keys). */
  json: string;
  sha256: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JSON with sorted keys and no undefined values: the same spec always gives the same text. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): Json => {
    if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(norm);
    if (typeof v === 'object') {
      const out: { [key: string]: Json } = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = norm(x);
      }
      return out;
    }
    throw new Error(`cannot put ${typeof v} in a spec`);
  };
  return JSON.stringify(norm(value));
}

function storageSpec(desired: Desired, s: DesiredStorage): unknown {
  if (s.kind === 'dir') {
    // Relative to the config, so the hash is the same in every checkout.
    return {
      kind: 'dir',
      name: s.name,
      path: relative(dirname(desired.source), s.path) || '.',
      reserve: s.reserve,
    };
  }
  const host = s.host !== undefined ? desired.hosts[s.host] : undefined;
  return { kind: 'lvm', name: s.name, host: host ?? null, pvs: s.pvs, reserve: s.reserve, wipe: s.wipe };
}

function item(desired: Desired, address: string, storage: string, spec: Record<string, unknown>): ItemSpec {
  const s = desired.storages[storage];
  if (!s) throw new Error(`${address}: unknown storage ${storage}`);
  const json = canonicalJson({ ...spec, storage: storageSpec(desired, s) });
  return {
    address,
    resourceName: address.replace('.', '_').replace(/[^A-Za-z0-9_-]/g, '_'),
    storage,
    json,
    sha256: createHash('sha256').update(json).digest('hex'),
  };
}

export function itemSpecs(desired: Desired): ItemSpec[] {
  const policy = (name: string | undefined) => (name !== undefined ? (desired.policies[name] ?? null) : null);
  const out: ItemSpec[] = [];
  for (const g of Object.values(desired.guests).sort((a, b) => a.name.localeCompare(b.name))) {
    const disks = g.disks.map((d) => {
      const disk = desired.disks[d];
      if (!disk) throw new Error(`guest ${g.name}: unknown disk ${d}`);
      return { name: disk.name, size: disk.size, protect: disk.protect };
    });
    out.push(
      item(desired, `guest.${g.name}`, g.storage, {
        kind: 'guest',
        name: g.name,
        disks,
        pinned: g.pinned,
        policy: policy(g.policy),
      }),
    );
  }
  const standalone = Object.values(desired.disks).filter((d) => d.guest === undefined);
  for (const d of standalone.sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(
      item(desired, `disk.${d.name}`, d.storage, {
        kind: 'disk',
        name: d.name,
        size: d.size,
        protect: d.protect,
        pinned: d.pinned,
        policy: policy(d.policy),
      }),
    );
  }
  const names = new Set<string>();
  for (const i of out) {
    if (names.has(i.resourceName)) throw new Error(`two items map to the Terraform name ${i.resourceName}`);
    names.add(i.resourceName);
  }
  return out;
}
