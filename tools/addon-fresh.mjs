// Part of `npm run build` in a checkout: rebuilds the addon when its sources are newer than
// build/Release/famfs_native.node. The install script (node-gyp-build) keeps any addon it finds,
// so a checkout that pulls new native code would otherwise run it against the old binary and fail
// with "... is not a function". An installed package has no build/ and never runs this.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'famfs_native.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
if (existsSync(addon) && statSync(addon).mtimeMs >= newest) process.exit(0);

process.stdout.write('famfs: native sources changed: rebuilding the addon\n');
// npm puts its own node-gyp on PATH for scripts.
const r = spawnSync('node-gyp', ['rebuild', '--loglevel=error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
process.exit(r.status ?? 1);
