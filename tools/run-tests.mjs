// Runs the built tests (dist/test) in groups; `npm test` runs them all after lint and build.
//   unit:        tests that mount nothing (memory devices of their own on /dev/shm, no
//                /dev/fuse): run in parallel.
//   mount:       tests that mount FUSE file systems, play several hosts or install the package:
//                one file at a time, as mounts and daemons are machine-wide.
//   noncoherent: the multi-host suites again, every emulated device made non-coherent
//                (FAMFS_EMU_NONCOHERENT=1, README "Non-coherent memory"): one file at a time.
// A test file is a mount test unless named in UNIT, so a new file is never left out.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = new Set([
  'alloc', 'allocation-map', 'badinput', 'core', 'cp-restart', 'data', 'device', 'famfs-abi', 'format', 'fuse-uring', 'init-negotiation',
  'log-session', 'native-watch', 'readme', 'replay-large', 'replay-scan', 'resolve', 'struct', 'fuse-structs', 'c-mirrors',
]);

/** The suites whose hosts share a device's memory, run again on non-coherent devices. */
const NONCOHERENT = [
  'noncoherent', 'multidev', 'pcq', 'reliability/concurrency', 'reliability/crash-torn', 'reliability/fsx', 'reliability/security',
];

const group = process.argv[2];
if (group !== 'unit' && group !== 'mount' && group !== 'noncoherent') {
  process.stderr.write('usage: node tools/run-tests.mjs unit|mount|noncoherent\n');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'test');
const files = [];
if (group === 'noncoherent') {
  files.push(...NONCOHERENT.map((name) => join(root, `${name}.test.js`)));
} else {
  for (const dir of [root, join(root, 'reliability')]) {
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.test.js')) continue;
      const isUnit = dir === root && UNIT.has(name.slice(0, -'.test.js'.length));
      if (isUnit === (group === 'unit')) files.push(join(dir, name));
    }
  }
}
const args = ['--test', ...(group === 'unit' ? [] : ['--test-concurrency=1']), ...files];
const env = group === 'noncoherent' ? { ...process.env, FAMFS_EMU_NONCOHERENT: '1' } : process.env;
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
