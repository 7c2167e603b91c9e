import { closeSync, existsSync } from 'node:fs';
import { isNativeError } from '../addon.js';
import { loadBpfNative } from './native.js';
import { BPF_SYSCTL, resolverObjectPath } from './pins.js';
import { BPF_MAP_TYPE_ARRAY } from './uapi.js';

const PROBE_KEY_SIZE = 4;
const PROBE_VALUE_SIZE = 8;
const PROBE_ENTRIES = 1;

/**
 * Why BPF cannot be used here, or undefined when it can: no bpf(2) in the kernel, the addon
 * without its bpf half, or bpf(2) refused (no root / CAP_BPF). Probed by creating and closing
 * a one-element array map, the cheapest thing that needs the same permission.
 */
export function bpfUnavailableReason(): string | undefined {
  if (!existsSync(BPF_SYSCTL)) return 'the kernel has no bpf(2) (CONFIG_BPF_SYSCALL off)';
  try {
    const fd = loadBpfNative().bpfMapCreate(BPF_MAP_TYPE_ARRAY, PROBE_KEY_SIZE, PROBE_VALUE_SIZE, PROBE_ENTRIES, 0, 'famfs_probe');
    closeSync(fd);
    return undefined;
  } catch (err) {
    if (isNativeError(err) && (err.code === 'EPERM' || err.code === 'EACCES')) return `bpf(2) is not permitted for this process (${err.code}: needs root or CAP_BPF)`;
    return `bpf(2) failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Why the resolver program cannot be run, or undefined: BPF itself, or the object not built. */
export function resolverUnavailableReason(): string | undefined {
  const why = bpfUnavailableReason();
  if (why) return why;
  const obj = resolverObjectPath();
  return existsSync(obj) ? undefined : `the resolver object ${obj} is not built (clang missing at install time?)`;
}
