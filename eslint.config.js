import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  {
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['cdktf', 'cdktf/*', '@cdktf/*', 'constructs'], message: 'CDKTF stays inside stacks/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/plan/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'execa',
                '**/exec/**',
                '**/storage/**',
                '**/engines/**',
                '**/apply/**',
                '**/observe/**',
              ],
              message: 'plan/ is pure: no I/O imports.',
            },
            { group: ['cdktf', 'cdktf/*', '@cdktf/*', 'constructs'], message: 'CDKTF stays inside stacks/.' },
          ],
        },
      ],
    },
  },
);
