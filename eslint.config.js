// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * reconcile/ depends on the Users API interface only (src/api/users-api.ts, imported as a type),
 * never on the client that implements it nor its transport. An allow-list: of api/, only the
 * interface, the ids and the schema types; any other module (the client, its parts, the index
 * that re-exports the client, one added later) is refused.
 */
const apiImplementation = {
  group: ['**/api/*', '!**/api/users-api*', '!**/api/ids*', '!**/api/schema*'],
  message:
    "reconcile/ uses the UsersApi interface: import type { UsersApi } from '../api/users-api.js', not the client implementation.",
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/.work/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use a string union, not an enum.' },
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    files: ['src/reconcile/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [apiImplementation] }] },
  },
  {
    // The pure modules of reconcile/, each checked to import no I/O (listed one by one: a new
    // module joins by name). apply.ts, run.ts and saved-plan.ts are the shell: they do the I/O.
    // Replaces the block above for these files (rule options are not merged): keep both fences.
    files: [
      'src/reconcile/model.ts',
      'src/reconcile/rules.ts',
      'src/reconcile/scope.ts',
      'src/reconcile/match.ts',
      'src/reconcile/plan.ts',
      'src/reconcile/safety.ts',
      'src/reconcile/render.ts',
      'src/reconcile/pending-toggles.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Every Node built-in, with or without node: (child_process, dns, tls, os, ...).
              group: ['node:*', ...builtinModules, 'undici', 'ldapts'],
              message: 'The planner is pure: no I/O imports.',
            },
            apiImplementation,
          ],
        },
      ],
    },
  },
  {
    // Plain-JavaScript bench children run the built code (dist/): no TypeScript project for them.
    files: ['bench/**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', performance: 'readonly' } },
  },
  {
    // Tool config files must default-export.
    files: ['eslint.config.js', 'vitest.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
