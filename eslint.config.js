// ESLint 9 flat config, run by `make lint` with --max-warnings 0: typescript-eslint's type-aware
// rules over the TypeScript (src, test, bench, scripts), the plain JavaScript rules over the
// build scripts. A rule turned off or relaxed here says why.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist.next/', 'dist.old/', 'node_modules/', 'debian/', 'coverage/', '.vmbatch-dev/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // recommendedTypeChecked has these on already, with every no-unsafe-* rule; named as the rules this project relies on
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // added; a default branch counts as covering the rest, as it does on purpose here (a
      // subcommand: any string the user typed; the RTE states a sweep treats alike)
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // off: functions are async to fit a Promise-returning interface (doctor checks, lock and
      // pipeline callbacks, test doubles), and so that what they throw becomes a rejection;
      // dropping `async` would turn those rejections into synchronous throws
      '@typescript-eslint/require-await': 'off',
      // relaxed: the code drops a property by destructuring it away (`{ gone: _gone, ...rest }`)
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // relaxed: a variable set once but read first by a callback made before it is set (the
      // multiplexer's connection to the guest) cannot be const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
);
