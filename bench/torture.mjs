// The reliability suite's long run (npm run bench:torture): 100 crash iterations per operation,
// 100,000 fuzz cases, 2 × 1,000 concurrent appends, 8 followers, 60 s of fsx; then one summary
// line. Any test failure counts as a corruption found: the line must end in "corruptions 0".
// FAMFS_TORTURE_SEED=<n> replays a run; the env vars below can each be overridden.
// --noncoherent runs it all on non-coherent emulated devices (FAMFS_EMU_NONCOHERENT=1: each host
// sees the device through its own cache; README, "Non-coherent memory").
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUITE = join(ROOT, 'dist', 'test', 'reliability');
const LONG = {
  FAMFS_CRASH_ITERS: '100',
  FAMFS_FUZZ_CASES: '100000',
  FAMFS_FUZZ_IMAGES: '2000',
  FAMFS_FUZZ_CLI_IMAGES: '20',
  FAMFS_CONC_FILES: '1000',
  FAMFS_FOLLOWERS: '8',
  FAMFS_FSX_SECONDS: '60',
};
const NONCOHERENT = process.argv.includes('--noncoherent');
const report = `/tmp/famfs-torture-${process.pid}.jsonl`;
const files = readdirSync(SUITE).filter((f) => f.endsWith('.test.js')).map((f) => join(SUITE, f));
const env = { ...process.env, ...Object.fromEntries(Object.entries(LONG).map(([k, v]) => [k, process.env[k] ?? v])), FAMFS_TORTURE_REPORT: report,
  ...(NONCOHERENT ? { FAMFS_EMU_NONCOHERENT: '1' } : {}) };

const started = Date.now();
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], { env, stdio: ['ignore', 'pipe', 'inherit'] });
let tap = '';
child.stdout.on('data', (d) => {
  tap += d;
  process.stderr.write(d);
});
const code = await new Promise((r) => child.on('close', r));

const figures = {};
if (existsSync(report)) {
  for (const line of readFileSync(report, 'utf8').split('\n').filter(Boolean)) {
    const { name, value } = JSON.parse(line);
    figures[name] = (figures[name] ?? 0) + value;
  }
  rmSync(report);
}
const failed = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? (code === 0 ? 0 : 1));
const minutes = ((Date.now() - started) / 60000).toFixed(1);
process.stdout.write(
  `torture${NONCOHERENT ? ' (non-coherent devices)' : ''}: crash iterations survived ${figures.crash_iterations ?? 0}, fuzz cases ${figures.fuzz_cases ?? 0}, ` +
  `concurrent appends ${figures.concurrent_appends ?? 0}, fsx operations ${figures.fsx_operations ?? 0}, ` +
  `corruptions found ${failed} (${minutes} min)\n`,
);
process.exit(code === 0 ? 0 : 1);
