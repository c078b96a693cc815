import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaText } from '../../../src/pipeline/schema.js';
import { configSchema, diskName, snapshotName } from '../../../src/config/schema.js';

const SCHEMAS = join(import.meta.dirname, '..', '..', '..', 'schemas');
const REGENERATE =
  'the checked-in JSON Schema is stale; regenerate it with: npm run build && npm run schemas' +
  ' (that is: node dist/cli/index.js schema --write schemas)';

describe('checked-in JSON Schemas', () => {
  it.each([
    ['lvchain.schema.json', 'config'],
    ['plan.schema.json', 'plan'],
  ] as const)('schemas/%s equals the output of "lvchain schema"', async (file, which) => {
    const onDisk = await readFile(join(SCHEMAS, file), 'utf8').catch(() => '(missing)');
    expect(onDisk, `schemas/${file}: ${REGENERATE}`).toBe(schemaText(which));
  });
});

describe('the config JSON Schema agrees with the loader', () => {
  const json = JSON.parse(schemaText('config')) as {
    properties: Record<string, { propertyNames?: { pattern?: string; maxLength?: number } }>;
  };

  it.each([
    ['vm-401-disk-0', true],
    ['VM-401-Disk-0', true],
    ['vm-401/disk-0', false],
    ['-vm', false],
  ])('disk name %j: editors and lvchain give the same verdict (%s)', (name, valid) => {
    const names = json.properties['disks']?.propertyNames;
    expect(names?.pattern).toBeDefined();
    const editor =
      new RegExp(names?.pattern as string).test(name) && name.length <= (names?.maxLength ?? Infinity);
    expect(diskName.safeParse(name).success).toBe(valid);
    expect(editor).toBe(valid);
  });

  it('snapshot names are checked the same way', () => {
    expect(snapshotName.safeParse('pre-upgrade').success).toBe(true);
    expect(snapshotName.safeParse('2024').success).toBe(false);
  });

  it('lists exactly the top-level keys of the config', () => {
    expect(Object.keys(json.properties).sort()).toEqual(Object.keys(configSchema.shape).sort());
  });
});
