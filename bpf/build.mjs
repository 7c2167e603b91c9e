#!/usr/bin/env node
// Build the famfs BPF resolver (bpf/famfs_resolve.bpf.c -> bpf/famfs_resolve.bpf.o) with
// clang -target bpf, like make: only when the object is missing or older than its sources. `npm
// pack` builds it, so the package ships it and installing needs no clang (the object is the same on
// every host: BPF bytecode, little-endian). Where clang or bpf(2) is missing it prints one line and
// exits 0, so the rest of famfs still installs and the BPF tests skip.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'famfs_resolve.bpf.c');
const sources = [source, join(here, 'famfs_bpf_fmap.h')];
const output = join(here, 'famfs_resolve.bpf.o');
const clang = process.env.CLANG ?? 'clang';
const bpfSysctl = '/proc/sys/kernel/unprivileged_bpf_disabled';

function skip(why) {
  process.stdout.write(`famfs: BPF resolver not built: ${why}\n`);
  process.exit(0);
}

const mtime = (path) => statSync(path).mtimeMs;
if (existsSync(output) && sources.every((s) => mtime(s) <= mtime(output))) {
  process.stdout.write(`famfs: BPF resolver up to date: ${output}\n`);
  process.exit(0);
}
if (!existsSync(bpfSysctl)) skip('this kernel has no bpf(2) (CONFIG_BPF_SYSCALL is off)');
const probe = spawnSync(clang, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) skip(`${clang} not found (Debian: apt-get install clang)`);
// -O2 is required: the verifier needs the loops bounded and helpers inlined; no -g, since the
// famfs loader does not load BTF.
const cc = spawnSync(clang, ['-O2', '-Wall', '-target', 'bpf', '-c', source, '-o', output], { encoding: 'utf8' });
if (cc.error || cc.status !== 0) {
  if (/unknown target|No available targets/i.test(cc.stderr ?? '')) skip(`${clang} has no BPF target`);
  process.stderr.write(cc.stderr ?? String(cc.error));
  process.exit(1);
}
process.stdout.write(`famfs: built ${output}\n`);
