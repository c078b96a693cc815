/**
 * Header features lvchain refuses to manage, read from qemu-img output captured by
 * test/fixtures/qemu/capture.sh, and judged by the same interpretation plan and apply use.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseInfo } from '../../../src/observe/qemu.js';
import { interpretDisk } from '../../../src/plan/interpret.js';
import type { LayerHeader } from '../../../src/model/observed.js';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/qemu', name), 'utf8');

function header(name: string): LayerHeader {
  const [info] = parseInfo(fixture(name));
  if (!info) throw new Error(`${name} holds no image`);
  return info.header;
}

/** The problems of a one-layer disk lvchain owns, whose top has this header. */
function problemsOf(h: LayerHeader): { code: string; message: string }[] {
  const view = interpretDisk(
    {
      name: 'vm-900-disk-0',
      storage: 'lab',
      layers: [
        {
          ref: { role: 'top' },
          name: 'vm-900-disk-0.qcow2',
          meta: { disk: 'vm-900-disk-0' },
          header: { state: 'read', header: h, backing: { kind: 'none' } },
          bytes: 1,
        },
      ],
    },
    { formattedBytes: () => 0, fullyAllocated: () => 0 },
  );
  return view.problems;
}

describe('qcow2 header features', () => {
  it('reads an external data file, raw or not, as qemu-img records it', () => {
    expect(header('info-data-file-raw.json').dataFile).toBe('/WORK/outside.raw');
    expect(header('info-data-file.json').dataFile).toBe('outside.raw');
    expect(header('info-chain.json').dataFile).toBeUndefined();
  });

  it('refuses a layer with an external data file, naming the file', () => {
    expect(problemsOf(header('info-data-file-raw.json'))).toEqual([
      {
        code: 'data_file',
        message:
          'vm-900-disk-0.qcow2 keeps its data in the external data file "/WORK/outside.raw"; lvchain never merges, writes or removes such a layer',
      },
    ]);
  });

  it('refuses each feature lvchain does not create, and names it', () => {
    const features = (name: string) =>
      problemsOf(header(name))
        .filter((p) => p.code === 'unmanaged_feature')
        .map((p) => p.message.replace(/^.*does not manage: /, ''));
    expect(features('info-compat-0.10.json')).toEqual(['compat 0.10']);
    expect(features('info-features.json')).toEqual([
      'lazy_refcounts, refcount_bits 1, compression_type zstd',
    ]);
    expect(features('info-encrypted.json')).toEqual(['encryption']);
    expect(features('info-bitmap.json')).toEqual(['persistent bitmaps (backup-0)']);
  });

  it('accepts what lvchain and Proxmox create: extended L2 or not, any cluster size', () => {
    expect(problemsOf(header('info-single.json'))).toEqual([]);
    expect(problemsOf(header('info-pve-base.json'))).toEqual([]);
  });

  it('keeps the backing path qemu-img resolved against the image folder', () => {
    const h = header('info-linked-clone.json');
    expect(h.backingName).toBe('../snap-s1-vm-900-disk-0.qcow2');
    expect(h.backingPath).toBe('/WORK/901/../snap-s1-vm-900-disk-0.qcow2');
  });
});
