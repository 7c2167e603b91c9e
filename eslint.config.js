// Lint and layering rules, run by `npm run lint` (which `npm test` runs first).
//
// Style: the rules below describe the code as it is written (2-space indent, single quotes,
// semicolons, trailing commas on multi-line lists, long lines allowed); they are checked, not
// applied by a formatter, so no file is rewritten wholesale.
//
// Layers: each folder of src/ may import only the layers under it (a regular expression on the
// import specifier; no folder of src/ has a subfolder named like a layer, so any depth matches).
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

/** What each folder of src/ may not import, and why (the layer order of README "Layout"). */
const RULES = [
  { dirs: ['struct'], banned: ['alloc', 'api', 'bpf', 'cli', 'console', 'daemon', 'data', 'device', 'format', 'fs', 'fuse', 'map', 'mounts', 'queue', 'status'], why: 'src/struct/ is the struct toolkit every layer may import: it imports none of them' },
  { dirs: ['format'], banned: ['alloc', 'api', 'bpf', 'cli', 'daemon', 'data', 'device', 'fs', 'fuse', 'map'], why: 'src/format/ is the bottom layer: one module per on-media structure' },
  { dirs: ['device', 'alloc'], banned: ['api', 'bpf', 'cli', 'daemon', 'data', 'fs', 'fuse', 'map'], why: 'devices and allocation sit under the file system core' },
  { dirs: ['mounts'], banned: ['alloc', 'api', 'bpf', 'cli', 'daemon', 'data', 'device', 'format', 'fs', 'fuse', 'map'], why: 'src/mounts/ is shared state every layer may import: it imports none of them' },
  { dirs: ['fs'], banned: ['api', 'bpf', 'cli', 'daemon', 'data', 'fuse', 'map'], why: 'the core (src/fs/) answers the layers above it and imports none of them' },
  { dirs: ['map', 'bpf'], banned: ['api', 'cli', 'daemon', 'data', 'fuse'], why: 'the mapping engine and the BPF publisher serve the API, the CLI and the daemon' },
  { dirs: ['data'], banned: ['api', 'bpf', 'cli', 'daemon', 'fs', 'fuse'], why: 'src/data/ works on mappings (src/map/): the fill worker that opens the core is the CLI\'s' },
  { dirs: ['api'], banned: ['bpf', 'cli', 'daemon', 'fuse'], why: 'the library API is neither the CLI nor the daemon' },
  { dirs: ['daemon'], banned: ['api', 'cli'], why: 'the daemon serves the core over FUSE; it uses neither the CLI nor the API' },
  { dirs: ['fuse'], banned: ['alloc', 'api', 'bpf', 'cli', 'daemon', 'data', 'device', 'format', 'fs', 'map', 'mounts'], why: 'the FUSE server knows nothing of famfs' },
  { dirs: ['cli'], banned: [], why: '' },
];

/** Outside src/fuse/, the FUSE server is imported through its index only. */
const FUSE_INDEX_ONLY = { regex: '(^|/)fuse/(?!index\\.js$)', message: 'import the FUSE server through src/fuse/index.js' };
/** The CLI may use the daemon's ABI profiles (for --abi); the rest of the daemon is the daemon's. */
const CLI_DAEMON = { regex: '^(\\.\\./)+daemon/(?!famfs-abi\\.js$)', message: 'the CLI starts the daemon through src/mounts/daemon-protocol.ts, not its modules' };

/** One no-restricted-imports rule per folder (a later config object would replace, not merge, it). */
function layerConfig({ dirs, banned, why }) {
  const patterns = banned.length > 0 ? [{ regex: `^(\\.\\./)+(${banned.join('|')})/`, message: why }] : [];
  if (!dirs.includes('fuse')) patterns.push(FUSE_INDEX_ONLY);
  if (dirs.includes('cli')) patterns.push(CLI_DAEMON);
  return { files: dirs.map((d) => `src/${d}/**/*.ts`), rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'prebuilds/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Tests match upstream's column-aligned output literally.
      'no-regex-spaces': 'off',
      // Tests match terminal escapes in a command's output.
      'no-control-regex': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, flatTernaryExpressions: true, ignoredNodes: ['TemplateLiteral *', 'ConditionalExpression *'] }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/eol-last': 'error',
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1 }],
    },
  },
  { files: ['bench/**/*.mjs', 'tools/**/*.mjs', 'bpf/**/*.mjs', 'eslint.config.js'], extends: [js.configs.recommended], languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', performance: 'readonly', setImmediate: 'readonly', __dirname: 'readonly' } } },
  ...RULES.map(layerConfig),
);
