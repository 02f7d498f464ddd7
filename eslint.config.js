// The layers of docs/architecture.md, kept by the linter: `npm test` runs it before the tests.
// Arrows point one way: http and the service plugins on top; services; then security, audit,
// messaging; then store and fhir at the bottom. A service reaches another only through its index.ts.
import tseslint from 'typescript-eslint';

/** Import patterns a group of files may not use, with the reason the linter prints. */
const forbid = (...rules) => ({
  'no-restricted-imports': [
    'error',
    { patterns: rules.map(([regex, message]) => ({ regex, message })) },
  ],
});

const HTTP = ['(^|/)http/', 'Only the HTTP layer and service plugins import src/http/.'];
const SERVICES = ['(^|/)services/', 'The lower layers import no service.'];
const CLI = ['(^|/)cli/', 'Only the composition roots (server, worker) import the CLI.'];
const SEED = ['(^|/)seed/', 'The seeders sit above the store; the lower layers do not use them.'];
// from src/services/<svc>/<file>.ts: '../<other>/<anything but index.js>'
const DEEP_SERVICE = [
  '^\\.\\./[^./][^/]*/(?!index\\.js$)',
  'Import another service only through its index.ts (re-export what you need there).',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      'max-len': [
        'error',
        {
          code: 120,
          ignoreUrls: true,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
        },
      ],
      'no-debugger': 'error',
      'no-var': 'error',
      'prefer-const': ['error', { destructuring: 'all' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' },
      ],
    },
  },
  // the bottom layers: the store and FHIR helpers know nothing above them
  {
    files: ['src/store/**/*.ts', 'src/fhir/**/*.ts'],
    rules: forbid(HTTP, SERVICES, CLI, SEED, [
      '(^|/)security/',
      'The store and fhir/ import no security.',
    ]),
  },
  // security, audit and messaging sit under the services and the HTTP layer
  {
    files: ['src/security/**/*.ts', 'src/audit/**/*.ts', 'src/messaging/**/*.ts'],
    rules: forbid(HTTP, SERVICES, CLI, SEED),
  },
  // backup and restore (src/backup/) sit beside the audit layer: they use the audit verifier, the
  // store and the data directory's keys, and nothing above them
  { files: ['src/backup/**/*.ts'], rules: forbid(HTTP, SERVICES, CLI, SEED) },
  // a service file: no HTTP layer, and other services only through their door
  { files: ['src/services/*/*.ts'], rules: forbid(HTTP, CLI, DEEP_SERVICE) },
  // the composition roots (server, CLI, seeders, workers) use a service through its index.ts; the
  // HTTP app alone registers its plugin.ts (kept out of index.ts, so that a worker or a CLI command
  // using a service does not load its routes and Fastify)
  {
    files: ['src/cli/**/*.ts', 'src/seed/**/*.ts', 'src/worker/**/*.ts', 'src/*.ts'],
    rules: forbid([
      '(^|/)services/[^/]+/(?!index\\.js$)',
      'Use a service through its index.ts (re-export what you need there).',
    ]),
  },
  {
    files: ['src/http/**/*.ts'],
    rules: forbid([
      '(^|/)services/[^/]+/(?!(index|plugin)\\.js$)',
      "Register a service's plugin.ts, or use its index.ts (re-export what you need there).",
    ]),
  },
  // a service's plugin is where it meets the HTTP layer
  { files: ['src/services/*/plugin.ts'], rules: forbid(CLI, DEEP_SERVICE) },
  // observability is imported from every layer, so it imports none of them (config and context only)
  {
    files: ['src/observability/**/*.ts'],
    rules: forbid([
      '^\\.\\./(?!(config|context)\\.js$)',
      'src/observability/ imports only src/config.ts, src/context.ts and packages.',
    ]),
  },
);
