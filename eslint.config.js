// ESLint with typescript-eslint's type-aware rules over src/, test/ and bench/ (the TypeScript
// the project compiles). Prettier owns formatting, so no stylistic rule is enabled here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'deploy/', 'examples/', 'docs/', 'bin/', 'scripts/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Promise-returning interfaces (evidence sources, signers, CLI actions) are implemented by
      // async functions so that a synchronous throw becomes a rejection, awaited or not.
      '@typescript-eslint/require-await': 'off',
      // @peculiar/x509's and WebCrypto's declarations name DOM types that lib ES2022 lacks: the
      // rule then calls assertions the compiler needs unnecessary, and its fixes break the build.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Destructuring that leaves a member out (`const { kid: _kid, ...rest } = header`).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, varsIgnorePattern: '^_' }],
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
    },
  },
);
