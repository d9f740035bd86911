// The linter (`npm run lint`, part of `npm test`): the recommended rules of ESLint and typescript-eslint, and the layer
// rules of docs/architecture.md ("Layers") as import restrictions per folder, so a wrong import fails before any test.
// test/architecture.test.ts checks the same rules on resolved paths, require() and import() as well.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * A relative import that climbs to one of these top-level folders (`../../infra/config`), optionally except a module of
 * it. `(../)+name` means the top-level folder because no folder but test/ has a subfolder named like a top-level one.
 */
const into = (folders, message, { except, allowTypeImports = false } = {}) => ({
  regex: `^(\\.\\./)+(${folders.join('|')})(/${except ? `(?!${except}(\\.js)?$)` : ''}|$)`,
  message,
  allowTypeImports,
});

const runtime = into(['scripts', 'test'], 'runtime code never imports scripts/ or test/');
const nodeModule = (folder) => [
  { regex: '^node:', message: `${folder}/ imports no Node module` },
  { regex: `^(${builtinModules.join('|')})(/|$)`, message: `${folder}/ imports no Node module` },
];
const INWARD = ['api', 'workflows', 'activities', 'gpu-workers', 'projections'];

/**
 * What each folder's files may not import, in the words of test/architecture.test.ts. One entry per folder: a second
 * block matching the same file would replace the rule's patterns, not add to them.
 */
const LAYERS = {
  api: [
    runtime,
    into(['workflows'], 'api/ imports workflows only for types and workflows/definitions', { except: 'definitions', allowTypeImports: true }),
    into(['projections'], 'api/ imports read-model queries from projections/queries only', { except: 'queries' }),
    into(['activities', 'gpu-workers'], 'api/ imports no worker module (shared reads go in infra/)'),
  ],
  activities: [
    runtime,
    into(['workflows'], 'activities/ imports workflows only for types and workflows/definitions', { except: 'definitions', allowTypeImports: true }),
    into(['gpu-workers'], 'activities/ never imports gpu-workers/ (shared code goes in infra/)'),
  ],
  'gpu-workers': [runtime, into(['activities'], 'gpu-workers/ never imports activities/ (shared code goes in infra/)')],
  workflows: [
    runtime,
    ...nodeModule('workflows'),
    into(['infra'], 'workflows/ imports no infra/ (the workflow sandbox forbids I/O)'),
    into(['activities', 'gpu-workers'], 'workflows/ imports only the types of activities', { allowTypeImports: true }),
    into(['api', 'projections'], 'workflows/ imports nothing of api/ or projections/'),
  ],
  projections: [runtime, into(['api', 'workflows', 'activities', 'gpu-workers'], 'projections/ imports only domain/ and infra/')],
  infra: [runtime, into(INWARD, 'infra/ imports only domain/ and infra/')],
  domain: [
    runtime,
    { regex: '^[^.]', message: 'domain/ imports no Node module and no package that is not pure (it is bundled into the workflows)' },
    into([...INWARD, 'infra'], 'domain/ imports nothing of the other folders'),
  ],
  scripts: [into(['test'], 'scripts/ never imports test/')],
  'test/support': [into(['scripts'], 'test/support imports scripts/ only through the shared harness (scripts/harness/)', { except: 'harness(/.*)?' })],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.tools/', 'bench-results/', 'dist/', 'coverage/', '.gpu-carry/', '.schemathesis/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // Unused names are already errors of tsc (noUnusedLocals, noUnusedParameters); `_`-prefixed ones are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Where a regular expression names control characters, finding them is its job (header bytes, stream names, NUL).
      'no-control-regex': 'off',
      // A re-thrown error folds the cause's message into its own one-line message on purpose ("start-up failed: <cause>").
      'preserve-caught-error': 'off',
      // A package.json has no typed import.
      '@typescript-eslint/no-require-imports': ['error', { allow: ['/package\\.json$'] }],
    },
  },
  {
    // Tests read parsed JSON (recorded histories, manifests, response bodies) whose shape their assertions check.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The three plain CommonJS files (bootstrap runs before node_modules exists) and this one run on Node as they are.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...Object.entries(LAYERS).map(([folder, patterns]) => ({
    files: [`${folder}/**/*.ts`],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
  })),
);
