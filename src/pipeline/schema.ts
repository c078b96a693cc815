import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Io } from './io.js';
import { configJsonSchema } from '../config/schema.js';
import { planJsonSchema } from '../model/plan.js';

export function schemaText(which: 'config' | 'plan'): string {
  return `${JSON.stringify(which === 'config' ? configJsonSchema() : planJsonSchema(), null, 2)}\n`;
}

export async function schemaCommand(o: { plan: boolean; write?: string }, io: Io): Promise<number> {
  if (o.write !== undefined) {
    await writeFile(join(o.write, 'lvchain.schema.json'), schemaText('config'));
    await writeFile(join(o.write, 'plan.schema.json'), schemaText('plan'));
    io.out(`Wrote ${join(o.write, 'lvchain.schema.json')} and ${join(o.write, 'plan.schema.json')}`);
    return 0;
  }
  io.out(schemaText(o.plan ? 'plan' : 'config').trimEnd());
  return 0;
}
