/**
 * The daemon's diagnostics socket, driven the way upstream's smoke scripts drive famfs_fused's:
 * curl --unix-socket <sock> http://localhost/<endpoint>. YAML replies are read back with a YAML
 * library, /metrics with a Prometheus text-format parser.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../src/addon.js';
import { BIN_DIR } from '../src/cli/bin.js';
import { DAEMON_FILE } from '../src/cli/daemon-start.js';
import { defaultConfig } from '../src/mounts/daemon-protocol.js';
import { parseLogLevelBody } from '../src/daemon/diag-server.js';
import { mountFile, readRecord } from '../src/mounts/registry.js';
import { cleanupDevices, emuDevice, GiB, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli } from './helpers/run.js';
import { cleanupMounts, mountFamfs, trackedMountpoint, trackServer, umountFamfs } from './helpers/mounts.js';
import { eventually } from './helpers/wait.js';
import { readAt } from './helpers/device-io.js';

after(() => {
  cleanupMounts();
  cleanupDevices();
});

interface Curl {
  status: number;
  body: string;
}

/** One request with curl over the Unix socket; `status` is the HTTP status curl saw. */
function curl(sock: string, path: string, extra: string[] = []): Curl {
  const r = spawnSync('curl', ['-sS', '--unix-socket', sock, '-w', '\n%{http_code}', ...extra, `http://localhost${path}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `curl ${path}: ${r.stderr}`);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

interface PromMetric {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

function metricsOf(text: string): Map<string, PromMetric> {
  return new Map((parsePrometheusTextFormat(text) as PromMetric[]).map((m) => [m.name, m]));
}

function valueOf(m: Map<string, PromMetric>, name: string, labels: Record<string, string> = {}): number {
  const metric = m.get(name);
  assert.ok(metric, `metric ${name} exported`);
  const sample = metric.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  assert.ok(sample, `${name} has a sample ${JSON.stringify(labels)}`);
  return Number(sample.value ?? sample.count);
}

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('diagnostics socket (upstream\'s endpoints, /status, /metrics)', () => {
  let dev = '';
  let mnt = '';
  let sock = '';
  let metricsPort = 0;

  before(async () => {
    dev = emuDevice(8 * GiB, 'diag');
    assert.equal(mkfsCli([dev]).status, 0);
    metricsPort = await freePort();
    mnt = mountFamfs(dev, MASTER_UUID, ['--metrics-port', String(metricsPort)]);
    // famfs mount gives every mount a shadow directory (upstream's /tmp/famfs_shadow_*): the socket is in it.
    sock = join(readRecord(mnt)!.shadowPath!, 'sock');
    // The daemon opens it just after reporting the mount.
    await eventually('diagnostics socket', () => existsSync(sock));
  });

  it('is <shadow>/sock, a socket of mode 0600 owned by the daemon\'s user, named in the record', () => {
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.geteuid!());
    assert.equal(readRecord(mnt)?.diagSocket, sock);
  });

  it('answers upstream\'s /icache_stats in its YAML layout, and the counts move with lookups', () => {
    const r = curl(sock, '/icache_stats');
    assert.equal(r.status, 200);
    assert.match(r.body, /^icache_stats:\n {2}search_count: {3}\d+\n {2}nodes_scanned: {2}\d+\n {2}search_fail_ct: \d+\n$/);
    const before = parseYaml(r.body) as { icache_stats: Record<string, number> };
    assert.equal(famfs(['creat', '-s', '2M', join(mnt, 'f')]).status, 0);
    // A lookup of a name that is not there fails without a node search; a stat of the file searches by its node id.
    statSync(join(mnt, 'f'));
    readFileSync(join(mnt, 'f'));
    const after = (parseYaml(curl(sock, '/icache_stats').body) as { icache_stats: Record<string, number> }).icache_stats;
    assert.ok(after.search_count! > before.icache_stats.search_count!, 'searches counted');
    assert.equal(after.search_count, after.nodes_scanned! + after.search_fail_ct!);
  });

  it('answers /pid, /inodes and /icache_dump like upstream, 404 for anything else', () => {
    const pid = parseYaml(curl(sock, '/pid').body) as { pid: number };
    assert.equal(pid.pid, readRecord(mnt)!.pid);
    const inodes = (parseYaml(curl(sock, '/inodes').body) as { inodes: Record<string, number> }).inodes;
    // root, .meta, .superblock, .log and the file made above
    assert.deepEqual(inodes, { total: 5, open: 0, deleted: 0 });
    const dump = curl(sock, '/icache_dump');
    assert.equal(dump.status, 200);
    assert.match(dump.body, /^icache: /);
    assert.match(readFileSync(mountFile(mnt, 'log'), 'utf8'), /icache_dump: FILE ino=\d+ parent=1 mode=644 name=\(f\)/);
    assert.deepEqual(curl(sock, '/no_such_thing'), { status: 404, body: 'Not Found\n' });
  });

  it('gets and sets /log_level with GET, POST and PUT; refuses a level outside 0..7 as upstream does', () => {
    assert.equal(curl(sock, '/log_level').body, '5\n');
    assert.equal(curl(sock, '/log_level', ['-X', 'POST', '-d', '7']).body, 'log level set to 7 (from 5)\n');
    assert.equal(curl(sock, '/log_level').body, '7\n');
    assert.equal(curl(sock, '/log_level', ['-X', 'PUT', '-d', 'level=6']).body, 'log level set to 6 (from 7)\n');
    const bad = curl(sock, '/log_level', ['-X', 'POST', '-d', '9']);
    assert.deepEqual(bad, { status: 200, body: 'Failed to set log level to 9\n' });
    assert.equal(curl(sock, '/log_level').body, '6\n');
    assert.equal(curl(sock, '/log_level', ['-X', 'DELETE']).status, 405);
    assert.equal(parseLogLevelBody(' 3\n'), 3);
    assert.equal(parseLogLevelBody('x'), undefined);
  });

  it('reports /status as JSON: role, device, log fill, follow lag, requests by opcode', () => {
    const s = JSON.parse(curl(sock, '/status').body) as {
      version: number; role: string; device: string; mountpoint: string; log: { entriesUsed: number; slots: number; played: number };
      follow: { entries: number; ms: number }; requests: { total: number; byOpcode: Record<string, { requests: number }> };
      devices: { index: number; capacity: number; allocated: number }[];
    };
    assert.equal(s.version, 1);
    assert.equal(s.role, 'master');
    assert.equal(s.device, dev);
    assert.equal(s.mountpoint, mnt);
    assert.equal(s.log.entriesUsed, 1);
    assert.equal(s.log.played, 1);
    assert.deepEqual(s.follow, { entries: 0, ms: 0, intervalMs: 200 });
    assert.ok(s.requests.byOpcode.LOOKUP!.requests > 0);
    assert.equal(s.devices[0]!.capacity, 8 * GiB);
  });

  it('exports Prometheus metrics that a text-format parser reads, counting the bytes read', async () => {
    const before = metricsOf(curl(sock, '/metrics').body);

    const readBefore = valueOf(before, 'famfs_read_bytes_total');
    assert.equal(famfs(['creat', '-s', '3M', join(mnt, 'g')]).status, 0);
    readAt(join(mnt, 'g'), 0, 3 * MiB);
    const text = curl(sock, '/metrics').body;
    const m = metricsOf(text);
    // The page cache may serve some reads again; at least the file's bytes came through READ.
    assert.ok(valueOf(m, 'famfs_read_bytes_total') - readBefore >= 3 * MiB);
    assert.ok(valueOf(m, 'famfs_fuse_requests_total', { opcode: 'READ' }) > 0);
    assert.ok(valueOf(m, 'famfs_fuse_errors_total', { opcode: 'LOOKUP' }) >= 0);
    assert.equal(m.get('famfs_fuse_request_duration_seconds')?.type, 'HISTOGRAM');
    // The parser folds a histogram's label sets into one; its samples are read from the text instead.
    const buckets = [...text.matchAll(/^famfs_fuse_request_duration_seconds_bucket\{opcode="READ",le="([^"]+)"\} (\d+)$/gm)];
    assert.equal(buckets.length, 22, '21 bounds and +Inf');
    const counts = buckets.map((b) => Number(b[2]));
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'cumulative');
    assert.equal(buckets.at(-1)![1], '+Inf');
    const count = /^famfs_fuse_request_duration_seconds_count\{opcode="READ"\} (\d+)$/m.exec(text);
    assert.equal(Number(count?.[1]), counts.at(-1));
    assert.equal(Number(count?.[1]), valueOf(m, 'famfs_fuse_requests_total', { opcode: 'READ' }), 'every READ answered and timed');
    assert.equal(valueOf(m, 'famfs_log_entries_played_total'), 2, 'f and g');
    assert.equal(valueOf(m, 'famfs_log_entries_used'), 2);
    assert.equal(valueOf(m, 'famfs_follow_lag_entries'), 0);
    assert.equal(valueOf(m, 'famfs_device_capacity_bytes', { index: '0' }), 8 * GiB);
    assert.ok(valueOf(m, 'famfs_device_allocated_bytes', { index: '0' }) >= 5 * 2 * MiB);
    assert.ok(valueOf(m, 'process_resident_memory_bytes') > MiB);

    // The same text on 127.0.0.1:<--metrics-port>, and nothing else there.
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(valueOf(metricsOf(await res.text()), 'famfs_log_entries_used'), 2);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/status`)).status, 404);
  });

  it('goes away with the mount', () => {
    umountFamfs(mnt);
    assert.equal(existsSync(sock), false);
  });
});

describe('diagnostics socket in the shadow directory', () => {
  it('is <shadowPath>/sock when the daemon is given a shadow path', async () => {
    const dev = emuDevice(8 * GiB, 'diagshadow');
    assert.equal(mkfsCli([dev]).status, 0);
    const mnt = trackedMountpoint();
    const shadow = mkdtempSync('/tmp/famfs-test-shadow-');
    const daemon = spawn(process.execPath, [join(packageRoot(), BIN_DIR, DAEMON_FILE)], { stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
    trackServer(mnt, daemon.pid!);
    daemon.stdin!.end(JSON.stringify({ ...defaultConfig(dev, mnt, MASTER_UUID), shadowPath: shadow }));
    const status = await new Promise<string>((resolve) => {
      let out = '';
      daemon.stdio[3]!.on('data', (b: Buffer) => (out += b.toString()));
      daemon.stdio[3]!.on('close', () => resolve(out));
    });
    assert.equal(status.trim(), 'ok');
    try {
      const sock = join(shadow, 'sock');
      await eventually('diagnostics socket', () => existsSync(sock));
      assert.equal(statSync(sock).mode & 0o777, 0o600);
      assert.equal(readRecord(mnt)?.diagSocket, sock);
      const r = spawnSync('curl', ['-sS', '--unix-socket', sock, 'http://localhost/icache_stats'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok('icache_stats' in (parseYaml(r.stdout) as object));
      assert.equal(existsSync(mountFile(mnt, 'sock')), false, 'only one socket');
    } finally {
      umountFamfs(mnt);
      await eventually('daemon exit', () => daemon.exitCode !== null);
      rmSync(shadow, { recursive: true, force: true });
    }
  });
});
