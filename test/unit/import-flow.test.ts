/**
 * The layering of DESIGN §10 is enforced by lint: an import against the flow, or an I/O import in
 * a pure folder, is an error. Proven on the real ESLint config, file by file.
 */
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function importErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport {};\n`, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('imports follow the flow of DESIGN §10', () => {
  it.each([
    ['src/storage/lvm/driver.ts', "import '../../apply/lock.js';"],
    ['src/engines/offline/engine.ts', "import '../../cli/index.js';"],
    ['src/plan/plan.ts', "import '../config/load.js';"],
    ['src/plan/plan.ts', "import 'node:fs';"],
    ['src/model/plan.ts', "import '../plan/plan.js';"],
    ['src/base/units.ts', "import '../model/plan.js';"],
    ['src/config/normalize.ts', "import '../plan/plan.js';"],
    ['src/observe/qemu.ts', "import '../plan/state.js';"],
    ['src/render/text.ts', "import '../plan/state.js';"],
    ['src/storage/dir/driver.ts', "import '../../engines/offline/engine.js';"],
    ['src/exec/local.ts', "import '../storage/lvm/index.js';"],
    ['src/apply/apply.ts', "import '../cli/index.js';"],
  ])('%s: %s is refused', async (file, source) => {
    expect(await importErrors(file, source)).not.toEqual([]);
  });

  it.each([
    ['src/plan/plan.ts', "import '../policy/retention.js';"],
    ['src/engines/offline/engine.ts', "import '../../storage/lvm/driver.js';"],
    ['src/apply/apply.ts', "import '../engines/select.js';"],
    ['src/cli/index.ts', "import '../pipeline/plan.js';"],
  ])('%s: %s is allowed', async (file, source) => {
    expect(await importErrors(file, source)).toEqual([]);
  });
});
