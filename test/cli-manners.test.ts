/**
 * What any npm CLI is expected to do: --version, shell completion, a quiet exit when the reader
 * of its output goes away, the terminal restored after Ctrl-C or SIGTERM (in a pseudo-terminal made
 * by script(1)), one JSON vocabulary, and a dead daemon's mount named with the command that fixes it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readRecord } from '../src/mounts/registry.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, emuDevice, GiB, master, MASTER_UUID, TEST_RUN_DIR } from './helpers/emu.js';
import { famfs, FAMFS_BIN, hostEnv, MKFS_BIN, runCli } from './helpers/run.js';
import { cleanupMounts, isMounted, mountFamfs, umountFamfs } from './helpers/mounts.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const scratch = mkdtempSync(join(tmpdir(), 'famfs-manners-'));
const SHOW_CURSOR = '\x1b[?25h';
const HIDE_CURSOR = '\x1b[?25l';
const WRAP_ON = '\x1b[?7h';
const CTRL_C = '\x03';
const EXIT_SIGINT = 130;
const EXIT_SIGTERM = 143;
const EXIT_SIGPIPE = 141;

let dev = '';
before(() => {
  dev = emuDevice(4 * GiB, 'manners');
  mkfs(dev, { systemUuid: master });
  const fs = FamfsHandle.open(dev, { systemUuid: master, writable: true });
  try {
    fs.mkdir('d/e', { parents: true });
    for (let i = 0; i < 20; i++) fs.creat(`d/e/f${i}`, { size: 4096 });
  } finally {
    fs.close();
  }
  writeFileSync(join(scratch, 'f0'), Buffer.alloc(4096));
});
after(() => {
  cleanupMounts();
  cleanupDevices();
  rmSync(scratch, { recursive: true, force: true });
});

const onDevice = (args: string[]) => famfs(args, MASTER_UUID, { FAMFS_DEVICE: dev });

describe('--version and completion', () => {
  it('every command prints the package version', () => {
    const bins = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
    assert.ok(Object.keys(bins).length >= 2);
    for (const bin of [FAMFS_BIN, MKFS_BIN, ...Object.values(bins).map((f) => join(repo, f))]) {
      const r = runCli(bin, ['--version']);
      assert.equal(r.status, 0, r.stderr);
      // famfs_fused answers -V/--version in its upstream form, naming itself.
      assert.ok(r.stdout === `${version}\n` || r.stdout === `famfs_fused (famfs-ts) version ${version}\n`, `${bin}: ${r.stdout}`);
    }
  });

  it('bash completion offers commands, subcommands, options and files', () => {
    const r = famfs(['completion', 'bash']);
    assert.equal(r.status, 0, r.stderr);
    const script = join(scratch, 'famfs.bash');
    writeFileSync(script, r.stdout);
    writeFileSync(join(scratch, 'somefile'), '');
    const complete = (words: string[]) => {
      const b = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _famfs; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { encoding: 'utf8', cwd: scratch });
      assert.equal(b.status, 0, b.stderr);
      return b.stdout.trim().split('\n').filter((l) => l !== '');
    };
    assert.deepEqual(complete(['famfs', 'cr']), ['creat']);
    assert.deepEqual(complete(['famfs', 'cp', '--thr']), ['--threadct']);
    assert.deepEqual(complete(['famfs', 'emu', '']), ['create', 'remove', '--help']);
    assert.deepEqual(complete(['famfs', 'emu', 'create', '--s']), ['--size']);
    assert.deepEqual(complete(['famfs', 'getmap', 'somef']), ['somefile']);
    assert.ok(complete(['famfs', '']).includes('completion'));
  });

  it('zsh completion covers the same commands; an unknown shell is one line', () => {
    const r = famfs(['completion', 'zsh']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^#compdef famfs\n/);
    for (const c of ['fsck', 'creat', 'cp', 'emu create', 'bpf dump', 'mount', 'umount']) assert.ok(r.stdout.includes(`'${c}')`), c);
    assert.match(r.stdout, /'cp'\) words_here=\([^)]*--threadct/);
    const bad = famfs(['completion', 'fish']);
    assert.notEqual(bad.status, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});

/** Runs a command whose stdout reader has gone before it writes; resolves with its status and stderr. */
function withClosedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FAMFS_BIN, ...args], {
      env: hostEnv(MASTER_UUID, { FAMFS_DEVICE: dev }), stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('a closed pipe (famfs ... | head)', () => {
  const DEVICE = '<device>';
  for (const args of [['ls', '-R'], ['ls', '--json', '-R'], ['logplay', '-n'], ['getmap', 'd/e/f1'], ['fsck', DEVICE], ['cp', '-c', join(scratch, 'f0'), 'd/e/f0']]) {
    it(`famfs ${args.join(' ')}: no stack trace, the status of a SIGPIPE death`, async () => {
      const r = await withClosedStdout(args.map((a) => (a === DEVICE ? dev : a)));
      assert.equal(r.stderr.includes('    at '), false, r.stderr);
      assert.equal(r.status, EXIT_SIGPIPE, r.stderr);
    });
  }
});

/** Runs `command` under script(1) in a pseudo-terminal; `interrupt` is called once the bar is drawn. */
function inTerminal(command: string, interrupt: (stdin: NodeJS.WritableStream) => void): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: hostEnv(MASTER_UUID, { FAMFS_DEVICE: dev, TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!sent && out.includes(HIDE_CURSOR)) {
        sent = true;
        interrupt(child.stdin);
      }
    });
    child.on('close', (status) => resolve({ status, out }));
  });
}

describe('Ctrl-C and SIGTERM during a progress bar (pseudo-terminal)', () => {
  // Two files of 1.5 GiB fill most of the 4 GiB device; randomizing one takes seconds here.
  const SIZE = '1536m';
  it('Ctrl-C: the cursor comes back, line wrap is on again, status 130', async () => {
    const r = await inTerminal(`exec ${process.execPath} ${FAMFS_BIN} creat -s ${SIZE} -r -S 5 big1`, (stdin) => stdin.write(CTRL_C));
    assert.equal(r.status, EXIT_SIGINT, r.out);
    const last = r.out.lastIndexOf(HIDE_CURSOR);
    assert.ok(last >= 0, 'a bar was drawn');
    assert.ok(r.out.indexOf(SHOW_CURSOR, last) > last, 'the cursor is shown again');
    assert.ok(r.out.indexOf(WRAP_ON, last) > last, 'line wrap is turned back on');
  });

  it('SIGTERM: the same, status 143', async () => {
    // The shell signals the command once the test has seen the bar and typed a line; it lingers
    // before exiting so script(1) reads the command's last output before it sees the shell end.
    const cmd = `${process.execPath} ${FAMFS_BIN} creat -s ${SIZE} -r -S 6 big2 & pid=$!; read go; kill -TERM $pid; wait $pid; st=$?; echo shell-done; sleep 1; exit $st`;
    const r = await inTerminal(cmd, (stdin) => stdin.write('go\n'));
    assert.equal(r.status, EXIT_SIGTERM, r.out);
    assert.ok(r.out.includes('shell-done'), `script(1) passed on all the output: ${JSON.stringify(r.out)}`);
    const last = r.out.lastIndexOf(HIDE_CURSOR);
    assert.ok(r.out.indexOf(SHOW_CURSOR, last) > last, `the cursor is shown again: ${JSON.stringify(r.out)}`);
  });
});

describe('summary lines', () => {
  it('creat -r and verify end with one line on stderr: files, bytes, time, rate', () => {
    const made = onDevice(['creat', '-s', '4m', '-r', '-S', '7', 'summed']);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stderr, /^famfs creat: randomized 1 file, 4\.0 MiB in \d+\.\d s \([\d.]+ [KMG]?i?B\/s\)\n$/);
    const checked = onDevice(['verify', '-S', '7', '-f', 'summed']);
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stdout, /^Success: verified 4194304 bytes in file summed\n$/, 'upstream\'s line stays on stdout');
    assert.match(checked.stderr, /^famfs verify: verified 1 file, 4\.0 MiB in \d+\.\d s \([\d.]+ [KMG]?i?B\/s\)\n$/);
    const wrong = onDevice(['verify', '-m', 'summed,7', '-m', 'summed,8']);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /^famfs verify: verified 1 file, 4\.0 MiB in .*; 1 failed$/m);
  });
});

describe('one JSON vocabulary', () => {
  const NODE_KEYS = ['gid', 'ino', 'kind', 'logIndex', 'mode', 'path', 'uid'];
  const FILE_KEYS = [...NODE_KEYS, 'size'].sort();
  const json = (args: string[]) => {
    const r = onDevice([...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  it('ls, logplay, creat, mkdir, getmap name a file or directory the same way', () => {
    const listed = json(['ls', '--json', '-R', 'd']) as unknown as Record<string, unknown>[];
    assert.deepEqual(Object.keys(listed.find((n) => n.path === 'd/e')!).sort(), NODE_KEYS);
    assert.deepEqual(Object.keys(listed.find((n) => n.path === 'd/e/f1')!).sort(), FILE_KEYS);
    assert.equal(listed.find((n) => n.path === 'd/e/f1')!.kind, 'file');
    const played = json(['logplay', '-n', '--json']) as { objects: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(played.objects.find((n) => n.path === 'd/e/f1')!).sort(), [...FILE_KEYS, 'fmap'].sort());
    const made = json(['mkdir', '-p', '--json', 'j/k']);
    assert.deepEqual([made.path, made.kind, made.created, made.logEntries], ['j/k', 'dir', true, 2]);
    const again = json(['mkdir', '-p', '--json', 'j/k']);
    assert.deepEqual([again.created, again.logEntries], [false, 0]);
    const file = json(['creat', '-s', '4096', '--json', 'j/k/f']);
    assert.deepEqual([file.path, file.kind, file.created, file.logEntries, file.size], ['j/k/f', 'file', true, 1, 4096]);
    const mapped = json(['getmap', '--json', 'j/k/f']) as unknown as Record<string, unknown>[];
    assert.deepEqual(Object.keys(mapped[0]!).sort(), [...FILE_KEYS, 'devices', 'fmap'].sort());
  });

  it('getmap --json keeps the maps before a missing file, then one line and upstream\'s status', () => {
    const r = onDevice(['getmap', '--json', 'd/e/f1', 'missing', 'd/e/f2']);
    assert.equal(r.status, 9);
    assert.deepEqual((JSON.parse(r.stdout) as { path: string }[]).map((m) => m.path), ['d/e/f1']);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /missing/);
  });
});

describe('daemon logs', () => {
  it('are named after the mount point, name it on every line, and become .log.1 at unmount', () => {
    const mnt = mountFamfs(dev, MASTER_UUID);
    const stem = mnt.replace(/^\//, '').replace(/[^A-Za-z0-9._]+/g, '-');
    const logs = () => readdirSync(TEST_RUN_DIR).filter((n) => n.startsWith(`${stem}-`) && /\.log(\.1)?$/.test(n)).sort();
    const [live] = logs();
    assert.match(live ?? '', /^.+-[0-9a-f]{8}\.log$/, `the log of ${mnt} in ${readdirSync(TEST_RUN_DIR).join(' ')}`);
    const lines = readFileSync(join(TEST_RUN_DIR, live!), 'utf8').trim().split('\n');
    assert.ok(lines.length > 0 && lines.every((l) => l.includes(` ${mnt}: `)), lines.join('\n'));
    umountFamfs(mnt);
    assert.deepEqual(logs(), [`${live!}.1`]);
    assert.match(readFileSync(join(TEST_RUN_DIR, `${live!}.1`), 'utf8'), /stopped/);
  });
});

describe('a mount whose daemon was killed', () => {
  it('mount, fsck and ls say to run famfs umount <mnt>; umount then recovers it', () => {
    const mnt = mountFamfs(dev, MASTER_UUID);
    const rec = readRecord(mnt);
    assert.ok(rec, 'the mount has a record');
    process.kill(rec.pid, 'SIGKILL');
    for (let i = 0; i < 100 && spawnSync('kill', ['-0', String(rec.pid)]).status === 0; i++) spawnSync('sleep', ['0.05']);
    const hint = `run \`famfs umount ${mnt}\``;
    for (const args of [['mount', dev, mnt], ['fsck', mnt], ['ls', join(mnt, 'd')], ['creat', '-s', '1m', join(mnt, 'x')]]) {
      const r = famfs(args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(hint), `${args[0]}: ${r.stderr}`);
    }
    umountFamfs(mnt);
    assert.equal(isMounted(mnt), false);
  });
});
