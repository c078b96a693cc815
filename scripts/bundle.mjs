// The CLI ships as one bundled file, dist/cli/index.js: Node then loads one module instead of
// some 230 of lvchain's and several hundred of its dependencies', which halved the start-up
// that every `lvchain` run pays before its first command (issue 14; measured in bench:merge).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/index.ts'],
  outfile: 'dist/cli/index.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // Bundled CommonJS dependencies require Node's own modules; an ES module has no `require`.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
