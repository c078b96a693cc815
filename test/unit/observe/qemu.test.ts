import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLockError, parseInfo, parseLayerMap, parseMeasure, qemuError } from '../../../src/observe/qemu.js';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/qemu', name), 'utf8');

describe('qemu-img parsers (fixtures captured by test/fixtures/qemu/capture.sh)', () => {
  it('reads a backing chain top first, with relative backing names and extended L2', () => {
    const chain = parseInfo(fixture('info-chain.json'));
    expect(chain.map((c) => c.filename.split('/').pop())).toEqual([
      'vm-900-disk-0.qcow2',
      'snap-s2-vm-900-disk-0.qcow2',
      'snap-s1-vm-900-disk-0.qcow2',
    ]);
    expect(chain[0]?.header).toMatchObject({
      format: 'qcow2',
      virtualSize: 64 * 1024 * 1024,
      clusterSize: 131072,
      extendedL2: true,
      dirty: false,
      corrupt: false,
      backingName: 'snap-s2-vm-900-disk-0.qcow2',
      backingFormat: 'qcow2',
    });
    expect(chain[2]?.header.backingName).toBeUndefined();
  });

  it('reads a single image object and a Proxmox base without extended L2', () => {
    expect(parseInfo(fixture('info-single.json'))).toHaveLength(1);
    const [base] = parseInfo(fixture('info-pve-base.json'));
    expect(base?.header.extendedL2).toBe(false);
    expect(base?.header.clusterSize).toBe(65536);
  });

  it('splits one layer into data and zero clusters', () => {
    const x = parseLayerMap(fixture('map-layer.json'));
    // s2: 2 MiB of data at 1 MiB, one 1 MiB zero cluster range at 8 MiB.
    expect(x.data).toEqual([[1048576, 3145728]]);
    expect(x.zero).toEqual([[8388608, 9437184]]);
  });

  it('reads measure', () => {
    expect(parseMeasure(fixture('measure-1g.json'))).toEqual({
      required: 655360,
      fullyAllocated: 1074397184,
    });
  });

  it('extracts the useful part of an error and recognises non-lock errors', () => {
    expect(qemuError(fixture('info-error-not-qcow2.txt'))).toBe(
      "Could not open '/WORK/raw.img': Image is not in qcow2 format",
    );
    expect(qemuError(fixture('info-error-broken-chain.txt'))).toBe(
      "Could not open '/WORK/snap-s1-vm-900-disk-0.qcow2': No such file or directory",
    );
    expect(isLockError(fixture('info-error-empty.txt'))).toBe(false);
  });
});
