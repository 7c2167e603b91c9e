/**
 * The package as a user gets it: `npm pack` of a scratch copy of this checkout (its own prepack and
 * prepare scripts: prebuilt addon, BPF object, dist), then `npm i -g` of the tarball into a fresh
 * prefix with a PATH that holds node, sh, mount and umount and no C compiler, make or clang. The
 * installed `famfs`, `mkfs.famfs` and the daemon then make, mount and use a file system, and a
 * consumer imports the library from ES modules, CommonJS and strict TypeScript.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupDevices, emuDevice, GiB, MASTER_UUID } from './helpers/emu.js';
import { cleanupMounts, isMounted, trackedMountpoint } from './helpers/mounts.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'famfs-package-'));
const NPM_CLI = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
/** What a package build reads (tests are not built: tsc finds none); node_modules is linked, not copied. */
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'binding.gyp', 'src', 'tools', 'bpf', 'native'];
/** The only programs the install and the commands may find. */
const ALLOWED_PROGRAMS = ['sh', 'mount', 'umount'];
const COMPILERS = ['cc', 'gcc', 'clang', 'make', 'c++', 'g++'];
const ELF_MACHINE_OFFSET = 18;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

after(() => {
  cleanupMounts();
  cleanupDevices();
  rmSync(scratch, { recursive: true, force: true });
});

function which(program: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function checked(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  assert.equal(r.status, 0, `${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

let tarball = '';
let prefix = '';
let installed = '';
/** PATH for everything after `npm pack`: the install prefix's bin and ALLOWED_PROGRAMS. */
let cleanPath = '';
/** npm reads its global config under the prefix, which is a new one here: keep this npm's. */
let globalConfig = '';

/** This environment with the clean PATH (the rest, certificates and the test's run directory, stays). */
function inClean(cmd: string, args: string[], cwd = scratch): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, PATH: cleanPath, FAMFS_SYSTEM_UUID: MASTER_UUID } });
}

before(() => {
  const src = join(scratch, 'src-copy');
  mkdirSync(src);
  for (const entry of SOURCES) {
    cpSync(join(repo, entry), join(src, entry), { recursive: true, filter: (p) => !p.endsWith('.bpf.o') });
  }
  symlinkSync(join(repo, 'node_modules'), join(src, 'node_modules'));
  const pack = checked(spawnSync(process.execPath, [NPM_CLI, 'pack', '--pack-destination', scratch], { cwd: src, encoding: 'utf8' }), 'npm pack');
  tarball = join(scratch, pack.stdout.trim().split('\n').at(-1)!);

  globalConfig = checked(spawnSync(process.execPath, [NPM_CLI, 'config', 'get', 'globalconfig'], { encoding: 'utf8' }), 'npm config').stdout.trim();
  const bin = join(scratch, 'clean-bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const p of ALLOWED_PROGRAMS) symlinkSync(which(p)!, join(bin, p));
  prefix = join(scratch, 'prefix');
  cleanPath = `${join(prefix, 'bin')}:${bin}`;
  installed = join(prefix, 'lib', 'node_modules', 'famfs-ts');
});

describe('the packed tarball', () => {
  it('holds dist, the prebuilt addon and BPF object, native sources, README and LICENSE, and no tests or source maps', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['dist/bin/famfs.cjs', 'dist/bin/mkfs.famfs.cjs', 'dist/bin/daemon.cjs', 'dist/cjs/index.cjs', 'dist/src/api/index.js',
      'dist/src/api/index.d.ts', 'prebuilds/linux-x64/famfs-ts.node', 'native/famfs_native.c', 'binding.gyp', 'bpf/famfs_resolve.bpf.c',
      'README.md', 'LICENSE', 'package.json']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    if (which('clang')) assert.ok(files.includes('bpf/famfs_resolve.bpf.o'), 'the BPF object is prebuilt');
    if (which('aarch64-linux-gnu-gcc')) assert.ok(files.includes('prebuilds/linux-arm64/famfs-ts.node'), 'the arm64 addon is prebuilt');
    for (const f of files) {
      assert.doesNotMatch(f, /\.map$|^dist\/test\/|^test\/|^bench\/|^\.ci\/|^src\/|^dist\/src\/cli\//, `${f} should not ship`);
    }
    assert.match(readFileSync(join(repo, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  });

  it('installs globally without a compiler and its commands work: famfs, mkfs.famfs and the mount daemon', () => {
    for (const c of COMPILERS) assert.notEqual(inClean('sh', ['-c', `command -v ${c}`]).status, 0, `${c} is not on the clean PATH`);
    checked(inClean('node', [NPM_CLI, 'install', '-g', '--prefix', prefix, '--globalconfig', globalConfig, '--prefer-offline', '--no-audit', '--no-fund', tarball]), 'npm i -g');
    // The prebuilds for this host were taken: node-gyp made no build directory.
    assert.ok(!existsSync(join(installed, 'build')), 'no node-gyp build at install');
    const x64 = readFileSync(join(installed, 'prebuilds', 'linux-x64', 'famfs-ts.node'));
    assert.equal(x64.readUInt16LE(ELF_MACHINE_OFFSET), EM_X86_64);
    const arm = join(installed, 'prebuilds', 'linux-arm64', 'famfs-ts.node');
    if (existsSync(arm)) assert.equal(readFileSync(arm).readUInt16LE(ELF_MACHINE_OFFSET), EM_AARCH64);

    const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version as string;
    assert.equal(checked(inClean('famfs', ['--version']), 'famfs --version').stdout, `${version}\n`);
    assert.equal(checked(inClean('mkfs.famfs', ['--version']), 'mkfs.famfs --version').stdout, `${version}\n`);

    const dev = emuDevice(4 * GiB, 'package');
    const mnt = trackedMountpoint();
    checked(inClean('mkfs.famfs', [dev]), 'mkfs.famfs');
    checked(inClean('famfs', ['mount', dev, mnt]), 'famfs mount');
    checked(inClean('famfs', ['creat', '-s', '2m', '-r', '-S', '7', join(mnt, 'f')]), 'famfs creat');
    checked(inClean('famfs', ['verify', '-S', '7', '-f', join(mnt, 'f')]), 'famfs verify');
    assert.deepEqual(readdirSync(mnt).filter((n) => n !== '.meta'), ['f']);
    checked(inClean('famfs', ['umount', mnt]), 'famfs umount');
    assert.ok(!isMounted(mnt));
  });

  it('imports from ES modules, CommonJS and strict TypeScript', () => {
    assert.ok(existsSync(installed), 'installed by the previous test');
    const app = join(scratch, 'app');
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    // As `npm link famfs-ts` would: the global install, with its own dependencies beside it.
    symlinkSync(installed, join(app, 'node_modules', 'famfs-ts'));
    symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    writeFileSync(join(app, 'esm.mjs'), "import { Famfs, FamfsError } from 'famfs-ts';\nconsole.log(typeof Famfs.open, typeof FamfsError);\n");
    writeFileSync(join(app, 'cjs.cjs'), "const { Famfs, FamfsError } = require('famfs-ts');\nconsole.log(typeof Famfs.open, typeof FamfsError);\n");
    writeFileSync(join(app, 'app.mts'), [
      "import { Famfs, type FamfsOpenOptions, type FamfsStat } from 'famfs-ts';",
      'const options: FamfsOpenOptions = { readOnly: true };',
      'export function size(dev: string, path: string): number {',
      '  const fs = Famfs.open(dev, options);',
      '  try { const st: FamfsStat = fs.stat(path); return st.size; } finally { fs.close(); }',
      '}', '',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
      files: ['app.mts'],
    }));
    for (const f of ['esm.mjs', 'cjs.cjs']) assert.equal(checked(inClean('node', [f], app), f).stdout, 'function function\n');
    checked(spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8' }), 'tsc --strict');
  });
});
