// Lint: typescript-eslint's recommended type-aware rules plus a few that matter for a fail-closed operator,
// and the layering of src/ (docs/architecture.md): imports only go down, and the pure layers do no I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The product's layers, bottom first, each with the layers it may import. A layer not listed may not be
 * imported. src/ never imports dev/, test/, bench/ or hack/ (development and test support stay out of the image).
 */
const LAYERS = {
  hash: [],
  api: [],
  // The generic controller runtime knows nothing of M87; it shares only the leaf's deepFreeze.
  runtime: ['hash'],
  integrity: ['hash', 'api'],
  'tool-catalogue': ['hash', 'api', 'integrity'],
  governance: ['hash', 'api', 'integrity', 'tool-catalogue'],
  runner: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance'],
  controller: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance', 'runtime'],
  // The typed M87 API client (src/client): what the CLI, the MCP server and the console talk to the cluster with.
  client: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance', 'runtime'],
  // `m87 mcp`: the MCP server agents call; it reaches the cluster only through the client.
  mcp: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance', 'runtime', 'client'],
  // `m87 ui`: the approvers' web console; it acts only through the client, with the user's own credentials.
  console: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance', 'client'],
  cli: ['hash', 'api', 'integrity', 'tool-catalogue', 'governance', 'runtime', 'runner', 'controller', 'client', 'mcp', 'console'],
};
const PURE = new Set(['hash', 'api', 'integrity', 'tool-catalogue', 'governance']);
const IO_MODULES = [
  'node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:http2', 'node:child_process',
  'node:dgram', 'node:dns', 'node:worker_threads', '@kubernetes/client-node', 'express', 'pino', 'prom-client', 'undici',
];

const escape = (s) => s.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&');
function layerRules(layer, allowed) {
  const forbidden = Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
  const patterns = [
    {
      regex: `^(\\.\\./)+(dev|test|bench|hack)(/|$)`,
      message: 'product code (src/) must not import development or test support',
    },
  ];
  if (forbidden.length > 0) {
    patterns.push({
      regex: `^(\\.\\./)+(${forbidden.map(escape).join('|')})(/|$)`,
      message: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src/'}: imports go down (docs/architecture.md)`,
    });
  }
  const paths = PURE.has(layer)
    ? IO_MODULES.map((name) => ({ name, message: `src/${layer} is pure: no I/O` }))
    : [];
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'charts/**', 'crds/**', 'bench/results/**', 'bench/.build/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  ...Object.entries(LAYERS).map(([layer, allowed]) => layerRules(layer, allowed)),
  {
    // The decision procedure reads time only from its context's clock; the controller only from the clock
    // startController was given (tests shift it), never the wall clock directly.
    files: ['src/governance/**/*.ts', 'src/controller/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'use the injected clock' },
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'use the injected clock' },
      ],
    },
  },
  {
    files: ['dev/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+(test|bench)(/|$)', message: 'dev/ support must not depend on tests or benchmarks' }] }],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The console's page runs in the browser (served as is, no build step).
    files: ['src/console/static/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', EventSource: 'readonly', URLSearchParams: 'readonly', CSS: 'readonly', setTimeout: 'readonly' },
    },
  },
);
