import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../addon.js';
import { bpfErrorFrom, BpfError } from './errors.js';
import { loadBpfNative } from './native.js';

/** Where famfs pins its BPF objects: /sys/fs/bpf/famfs/<fs-uuid>/{fmap,resolve,resolve_xdp}. */
export const BPFFS_ROOT = '/sys/fs/bpf';
export const FAMFS_PIN_ROOT = join(BPFFS_ROOT, 'famfs');
export const FMAP_PIN = 'fmap';
export const RESOLVE_PROG_PIN = 'resolve';
export const RESOLVE_XDP_PIN = 'resolve_xdp';
const BPFFS_TYPE = 'bpf';
const PROC_MOUNTS = '/proc/mounts';
/** Present exactly when the kernel has bpf(2) (CONFIG_BPF_SYSCALL). */
export const BPF_SYSCTL = '/proc/sys/kernel/unprivileged_bpf_disabled';

export function pinDir(fsUuid: string): string {
  return join(FAMFS_PIN_ROOT, fsUuid);
}

/**
 * The resolver object: built by bpf/build.mjs beside its source (at `npm install` where clang is,
 * and at `npm pack`, so the package ships it prebuilt; the object is the same on every host).
 */
export function resolverObjectPath(): string {
  return join(packageRoot(), 'bpf', 'famfs_resolve.bpf.o');
}

export function bpffsMounted(at = BPFFS_ROOT): boolean {
  return readFileSync(PROC_MOUNTS, 'utf8').split('\n').some((l) => {
    const f = l.split(' ');
    return f[1] === at && f[2] === BPFFS_TYPE;
  });
}

/** Mount bpffs at /sys/fs/bpf unless it is there; true when this call mounted it. */
export function ensureBpffs(): boolean {
  if (!existsSync(BPF_SYSCTL)) throw new BpfError('ENOSYS', 'this kernel has no bpf(2) (CONFIG_BPF_SYSCALL is off)');
  if (bpffsMounted()) return false;
  try {
    loadBpfNative().bpffsMount(BPFFS_ROOT);
  } catch (err) {
    throw bpfErrorFrom(err, `mounting bpffs at ${BPFFS_ROOT}`);
  }
  return true;
}

/** Remove a file system's pins and its directory, and /sys/fs/bpf/famfs when it is left empty. */
export function removePins(fsUuid: string): string[] {
  const dir = pinDir(fsUuid);
  if (!existsSync(dir)) return [];
  const removed = readdirSync(dir).map((name) => {
    unlinkSync(join(dir, name));
    return join(dir, name);
  });
  rmdirSync(dir);
  if (existsSync(FAMFS_PIN_ROOT) && readdirSync(FAMFS_PIN_ROOT).length === 0) rmdirSync(FAMFS_PIN_ROOT);
  return removed;
}

export function makePinDir(fsUuid: string): string {
  const dir = pinDir(fsUuid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
