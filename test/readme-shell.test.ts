/**
 * Every shell block of README.md runs as pasted, or says why it cannot.
 *
 * The convention (for everyone who adds a README section):
 * - A fenced block whose language is `sh`, `bash`, `shell` or `console` is a shell block. It is
 *   run by this test, alone, with `bash -e -o pipefail`, as root, with the package's commands on
 *   PATH (and `sudo` running its command as is), in a scratch working directory, in its own mount
 *   namespace (`unshare -m`) where /dev/shm, /mnt and /opt are fresh tmpfs mounts and /sys/fs/bpf
 *   a fresh bpffs: literal paths such as /dev/shm/famfs0 and /mnt/famfs collide with nothing, and
 *   nothing a block makes outlives it.
 *   Every FUSE mount a block leaves is unmounted with `famfs umount` when it ends. So each block
 *   must stand alone: create its emulated device, mkfs, ..., exactly as a reader would paste it.
 * - A block that cannot run here is marked on the line before its opening fence with an HTML
 *   comment (invisible on GitHub) giving the reason:
 *       <!-- readme-test: not runnable (why) -->
 *   and a block that needs bpf(2) and the BPF resolver (skipped where the kernel, privileges or the
 *   object lack) with:
 *       <!-- readme-test: needs bpf -->
 * - Any other fenced block (js, text, ...) is not shell and is not run here (the Library
 *   example is run by readme.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolverUnavailableReason } from '../src/bpf/probe.js';
import { TEST_RUN_DIR } from './helpers/emu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'famfs-readme-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console']);
const MARKER = /^<!--\s*readme-test:\s*(not runnable|needs bpf)\b[^>]*-->\s*$/;
/** A block gets this long to run (mkfs, mounts, copies of a few MiB, a queue of 100,000 messages). */
const BLOCK_TIMEOUT_S = 150;
/** And its namespace this long, to clean up after it. */
const NAMESPACE_TIMEOUT_MS = (BLOCK_TIMEOUT_S + 30) * 1000;

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  section: string;
  language: string;
  marker: 'not runnable' | 'needs bpf' | undefined;
  text: string;
}

/** Every fenced block of a Markdown text, with the nearest heading above it and its marker. */
export function fencedBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,6} /.test(l)) section = l.replace(/^#+ /, '');
    const open = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(l);
    if (!open) continue;
    const fence = open[1]!;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith(fence)) end++;
    const prev = i > 0 ? MARKER.exec(lines[i - 1]!) : null;
    blocks.push({ line: i + 1, section, language: open[2] ?? '', marker: prev ? (prev[1] as ReadmeBlock['marker']) : undefined, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * The commands as `npm link` would put them on PATH (every `bin` of package.json: this build's
 * bundles), and `sudo`: the blocks run as root already, and a real sudo would reset PATH.
 */
function binDir(): string {
  const bin = join(scratch, 'bin');
  mkdirSync(bin, { recursive: true });
  const bins = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
  for (const [name, file] of Object.entries(bins)) symlinkSync(join(root, file), join(bin, name));
  writeFileSync(join(bin, 'sudo'), '#!/bin/sh\nexec env "$@"\n', { mode: 0o755 });
  return bin;
}

/**
 * Sets up the namespace, runs the block (killed after BLOCK_TIMEOUT_S), then ends what it left:
 * every other process in this mount namespace (a background job, a daemon) is killed and every
 * FUSE mount taken down with `famfs umount`, which also recovers a mount whose daemon was killed.
 * The namespace starts with copies of every mount on the machine; the FUSE ones are detached
 * first, so this namespace never keeps another test's mount (and its daemon) alive.
 */
const NAMESPACE_SCRIPT = `set -e
fuse_mounts() { awk '$0 ~ / - fuse[. ]/ { print $5 }' /proc/self/mountinfo; }
for m in $(fuse_mounts); do umount -l "$m" 2>/dev/null || true; done
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /mnt
mount -t tmpfs tmpfs /opt
if [ -d /sys/fs/bpf ]; then mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true; fi
leftovers() {
  st=$?
  ns=$(readlink /proc/self/ns/mnt)
  for p in /proc/[0-9]*; do
    pid=\${p#/proc/}
    [ "$pid" != $$ ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for m in $(fuse_mounts); do famfs umount "$m" || umount -l "$m" || true; done
  exit $st
}
trap leftovers EXIT
cd "$BLOCK_DIR"
timeout -k 5 "$BLOCK_TIMEOUT_S" bash -e -o pipefail "$BLOCK_FILE"
`;

function runBlock(b: ReadmeBlock, bin: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(scratch, `block-${b.line}-`));
  const file = join(dir, 'block.sh');
  writeFileSync(file, `${b.text}\n`);
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', NAMESPACE_SCRIPT], {
    encoding: 'utf8', timeout: NAMESPACE_TIMEOUT_MS,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, BLOCK_DIR: dir, BLOCK_FILE: file, BLOCK_TIMEOUT_S: String(BLOCK_TIMEOUT_S), FAMFS_RUN_DIR: TEST_RUN_DIR, FAMFS_DEVICE: '', FAMFS_SYSTEM_UUID: '' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const shellBlocks = fencedBlocks(readme).filter((b) => SHELL_LANGUAGES.has(b.language));

describe('README shell blocks', () => {
  it('the extractor finds blocks, their sections and markers', () => {
    const sample = ['# T', '## A', '<!-- readme-test: not runnable (needs a CXL host) -->', '```sh', 'echo a', '```', '',
      '```js', 'x', '```', '<!-- readme-test: needs bpf -->', '~~~bash', 'echo b', '~~~'].join('\n');
    assert.deepEqual(fencedBlocks(sample).map((b) => [b.line, b.section, b.language, b.marker, b.text]), [
      [4, 'A', 'sh', 'not runnable', 'echo a'], [8, 'A', 'js', undefined, 'x'], [12, 'A', 'bash', 'needs bpf', 'echo b']]);
    assert.ok(shellBlocks.length > 0, 'the README has shell blocks');
  });

  const bin = binDir();
  for (const b of shellBlocks) {
    const name = `line ${b.line} (${b.section || 'top'})`;
    if (b.marker === 'not runnable') {
      it(`${name}: marked not runnable`, { skip: 'marked not runnable in the README' }, () => {});
      continue;
    }
    const bpfWhy = b.marker === 'needs bpf' ? resolverUnavailableReason() : undefined;
    it(`${name}: runs as pasted`, { skip: bpfWhy ?? false }, () => {
      const r = runBlock(b, bin);
      assert.equal(r.status, 0, `README.md line ${b.line} failed (${r.status}):\n${b.text}\n--- output ---\n${r.out}`);
    });
  }
});
