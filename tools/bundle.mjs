// Bundles each command (famfs, mkfs.famfs and the daemon `famfs mount` starts) from tsc's output
// into one CommonJS file in dist/bin, and the library into dist/cjs/index.cjs, what `require`
// gets (package.json's exports): Node before 20.19 cannot require an ES module. Node resolves, reads and links every ES module on its own,
// and its ES module loader costs ~20 ms of each start on this VM; a command run once per file by a
// script, and every mount, paid ~25-40 ms of that (bench/README.md). Run after tsc.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = {
  'bin/famfs': 'src/cli/famfs.js',
  'bin/mkfs.famfs': 'src/cli/mkfs.js',
  'bin/pcq': 'src/cli/pcq.js',
  'bin/daemon': 'src/daemon/main.js',
  'bin/famfs_fused': 'src/cli/famfs-fused.js',
  'bin/fill-worker': 'src/cli/fill-worker.js',
  'cjs/index': 'src/api/index.js',
};
// The sources find the package (the addon, the daemon) from import.meta.url, which CommonJS lacks.
const META_URL = '__famfsModuleUrl';

for (const [name, entry] of Object.entries(ENTRIES)) {
  await build({
    entryPoints: [join(root, 'dist', entry)],
    outfile: join(root, 'dist', `${name}.cjs`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { 'import.meta.url': META_URL },
    banner: { js: `const ${META_URL} = require('node:url').pathToFileURL(__filename).href;` },
    logLevel: 'warning',
    // Loaded at the first /metrics scrape only; left out so no start parses it.
    external: ['prom-client'],
  });
}
