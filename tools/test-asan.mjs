// npm run test:asan: the addon (native/*.c, the sources binding.gyp lists) built with
// AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/, and the suites that feed it
// untrusted bytes run against it: the replay scan and the fuzz suite at a reduced case count
// (FAMFS_FUZZ_CASES and friends override), and the event-loop watches' lifecycle (close, garbage
// collection, a worker's teardown), where a use after free would otherwise go unseen. Every process they start (CLI commands, mount
// daemons) loads the same build. Fails on a test failure or on any sanitizer report, from any
// of those processes (each writes its reports to a file, which this script looks for).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'build-asan', 'Release');
const ADDON = join(OUT_DIR, 'famfs_native.node');
/** gcc links its sanitizer runtimes into a shared object dynamically, which Node can then load. */
const CC = process.env.CC || 'gcc';
const NODE_INCLUDE = join(dirname(process.execPath), '..', 'include', 'node');
const SUITES = ['dist/test/replay-scan.test.js', 'dist/test/reliability/fuzz.test.js', 'dist/test/native-watch.test.js'];
/** The tests that give the addon untrusted bytes; the fuzz suite's name tests drive the CLI,
 * dozens of processes that would only make the run long. */
const TESTS = 'native scan|fuzz cases|crafted entries|corrupted images|uv watches';
/** Fewer cases than the plain run. The bound on one case's time is the plain run's job: under the
 * sanitizers a case that allocates a large bitmap (a log entry may add a device of up to 2^53
 * bytes) takes seconds, so here it only catches a hang. */
const REDUCED = { FAMFS_FUZZ_CASES: '1500', FAMFS_FUZZ_IMAGES: '30', FAMFS_FUZZ_CLI_IMAGES: '1', FAMFS_FUZZ_SLOW_MS: '30000' };

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function fail(message) {
  process.stderr.write(`test:asan: ${message}\n`);
  process.exit(1);
}

const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8'));
const target = gyp.targets.find((t) => t.target_name === 'famfs_native');
const cflags = target.cflags.filter((f) => !/^-O/.test(f));
mkdirSync(OUT_DIR, { recursive: true });
const built = run(CC, [
  ...cflags, '-O1', '-g', '-fno-omit-frame-pointer', '-fPIC', '-shared',
  '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined',
  '-pthread', '-Wno-unused-parameter',
  // What node-gyp defines for an addon (build/*.target.mk).
  '-DNODE_GYP_MODULE_NAME=famfs_native', '-DBUILDING_NODE_EXTENSION', '-DUSING_UV_SHARED=1',
  '-D_FILE_OFFSET_BITS=64', '-D_LARGEFILE_SOURCE', `-I${NODE_INCLUDE}`,
  ...target.sources.map((s) => join(ROOT, s)), '-o', ADDON,
], { cwd: ROOT });
if (built !== 0) fail(`${CC} could not build the sanitizer build of the addon`);

const libasan = spawnSync(CC, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
if (!libasan.startsWith('/')) fail(`${CC} does not know where libasan.so is (install its libasan)`);

const reports = mkdtempSync(join(tmpdir(), 'famfs-asan-'));
const env = {
  ...process.env,
  ...Object.fromEntries(Object.entries(REDUCED).map(([k, v]) => [k, process.env[k] ?? v])),
  FAMFS_NATIVE_ADDON: ADDON,
  // The runtime must be loaded before anything else: Node itself is not built with it.
  LD_PRELOAD: libasan,
  // Node and V8 keep memory to the end on purpose: leak reports would be about them, not us.
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:log_path=${join(reports, 'asan')}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${join(reports, 'ubsan')}`,
};
const tested = run(process.execPath, ['--test', '--test-concurrency=1', `--test-name-pattern=${TESTS}`, ...SUITES], { cwd: ROOT, env });
const found = readdirSync(reports);
for (const f of found) process.stderr.write(`--- ${f}\n${readFileSync(join(reports, f), 'utf8')}\n`);
rmSync(reports, { recursive: true, force: true });
if (found.length > 0) fail(`${found.length} sanitizer report(s)`);
if (tested !== 0) fail('the suites failed against the sanitizer build');
process.stdout.write(`test:asan: ${SUITES.length} suites against the AddressSanitizer/UBSan build of the addon, 0 sanitizer reports\n`);
