// Builds the prebuilt N-API addons that `npm pack` ships in prebuilds/<platform>-<arch>/ (prebuildify),
// where node-gyp-build finds them at install and at run time, so installing needs no compiler.
// linux-x64 always (this host); linux-arm64 when Debian's cross compiler is on PATH
// (apt-get install gcc-aarch64-linux-gnu), else one line says it is skipped and arm64 hosts build
// from the shipped sources at install. N-API binaries do not depend on the Node version.
// `node tools/prebuild.mjs --clean` (postpack) removes them again: left in a checkout, node-gyp-build
// would load them at the next `npm install` instead of compiling the sources pulled since.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
const ARM64_TRIPLET = 'aarch64-linux-gnu';

function prebuild(arch, env = {}, stripBin = 'strip') {
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--strip-bin', stripBin, '--arch', arch, '--quiet'], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env },
  });
  if (r.status !== 0) {
    process.stderr.write(`famfs: prebuild for linux-${arch} failed\n`);
    process.exit(r.status ?? 1);
  }
  process.stdout.write(`famfs: prebuilt prebuilds/linux-${arch}\n`);
}

rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
if (process.argv[2] === '--clean') process.exit(0);
if (process.arch !== 'x64') {
  process.stderr.write(`famfs: prebuilds are made on x64 hosts (this is ${process.arch})\n`);
  process.exit(1);
}
const cross = `${ARM64_TRIPLET}-gcc`;
if (spawnSync(cross, ['--version']).status === 0) {
  // node-gyp compiles with CC and links with CXX (LINK): the addon is C, so gcc does both.
  prebuild('arm64', { CC: cross, CXX: cross, LINK: cross }, `${ARM64_TRIPLET}-strip`);
} else {
  process.stdout.write(`famfs: no linux-arm64 prebuild: ${cross} not found (apt-get install gcc-${ARM64_TRIPLET})\n`);
}
// This host's last, so build/ keeps its objects for an incremental node-gyp build; prebuildify
// moves the addon out of build/Release, so it goes back there for this checkout's own use.
prebuild('x64');
mkdirSync(join(root, 'build', 'Release'), { recursive: true });
copyFileSync(join(root, 'prebuilds', 'linux-x64', 'famfs-ts.node'), join(root, 'build', 'Release', 'famfs_native.node'));
