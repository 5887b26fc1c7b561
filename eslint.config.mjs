// @ts-check
// Lint: ESLint's and typescript-eslint's recommended sets, type-aware for the TypeScript, plus the
// rules that catch promise mistakes (a dropped rejection kills a controller or hides a failure)
// and switches that miss a member of a union. Formatting is prettier's job (.prettierrc.json).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'tenement-data/', 'demo-data/', '.tmp/'] },
  js.configs.recommended,
  { files: ['**/*.mjs'], languageOptions: { globals: globals.node } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Part of recommendedTypeChecked, named here because they are the point of type-aware lint.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test runs describe/it itself and reports their failures; nothing awaits them.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A switch with no default must name every member of the union, so a new state or kind is
      // handled everywhere the compiler can see; a default is a deliberate catch-all.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Passing on a rejection we were given (unknown) is not inventing a non-Error one.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Fakes and interface implementations are async by contract without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      // `x!` after a look-up states what the author knows; removing it is churn, not a fix.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `self` is how prom-client's collect() callbacks (called with their own `this`) reach ours.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
      // A `let` assigned once, later, but read by closures made before: it cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `let x = fallback; try { x = read() } catch { ... }` keeps the fallback readable at the
      // declaration; the rule counts that first value as useless.
      'no-useless-assignment': 'off',
      // An argument named `_` says it is unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON (bodies, audit details, files on disk) and assert on it field by field.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Expected output is matched with its column alignment visible.
      'no-regex-spaces': 'off',
    },
  },
);
