import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const cdktf = {
  group: ['cdktf', 'cdktf/*', '@cdktf/*', 'constructs'],
  message: 'CDKTF stays inside stacks/.',
};

/**
 * The flow of DESIGN §5 and §10 as data: each folder of src/ and the folders it may import
 * from. Anything else is an import against the flow. Pure folders may not import I/O either.
 */
const layers = {
  base: { may: [], pure: false },
  model: { may: ['base'], pure: true },
  policy: { may: ['base', 'model'], pure: true },
  config: { may: ['base', 'model', 'policy'], pure: false },
  observe: { may: ['base', 'model'], pure: false },
  plan: { may: ['base', 'model', 'policy'], pure: true },
  check: { may: ['base', 'model', 'policy', 'plan'], pure: true },
  render: { may: ['base', 'model', 'check'], pure: false },
  exec: { may: ['base', 'model'], pure: false },
  storage: { may: ['base', 'model', 'observe', 'exec'], pure: false },
  engines: { may: ['base', 'model', 'observe', 'exec', 'storage'], pure: false },
  apply: { may: ['base', 'model', 'policy', 'observe', 'plan', 'exec', 'storage', 'engines'], pure: false },
  pipeline: {
    may: [
      'base',
      'model',
      'policy',
      'config',
      'observe',
      'plan',
      'check',
      'render',
      'exec',
      'storage',
      'engines',
      'apply',
    ],
    pure: false,
  },
};
layers.cli = { may: Object.keys(layers), pure: false };

const io = ['node:*', 'execa'];

const flowRules = Object.entries(layers).map(([layer, { may, pure }]) => {
  const against = Object.keys(layers).filter((l) => l !== layer && !may.includes(l));
  const patterns = [cdktf];
  if (against.length > 0)
    patterns.push({
      group: against.map((l) => `**/${l}/**`),
      message: `${layer}/ may import only from ${may.length > 0 ? may.join(', ') : 'itself'} (DESIGN §10; docs/architecture.md).`,
    });
  if (pure) patterns.push({ group: io, message: `${layer}/ is pure: no I/O imports.` });
  return { files: [`src/${layer}/**`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
});

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'stacks/node_modules/',
      'stacks/cdktf.out/',
      '.lvchain-lab/',
      '.cache/',
      'coverage/',
      '.scratch/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='exit']",
          message: 'Only src/cli/index.ts may call process.exit.',
        },
      ],
    },
  },
  {
    files: ['src/cli/index.ts', 'test/**', 'bench/**', 'stacks/**', 'scripts/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  { files: ['src/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [cdktf] }] } },
  ...flowRules,
);
