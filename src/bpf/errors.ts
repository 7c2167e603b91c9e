import { FamfsError, type ErrnoName } from '../errors.js';
import { isNativeError } from '../addon.js';

/** Anything the BPF layer refuses or the kernel refused; `verifierLog` when a load failed. */
export class BpfError extends FamfsError {
  constructor(code: ErrnoName, message: string, readonly verifierLog?: string) {
    super(code, message);
  }
}

const KNOWN: readonly ErrnoName[] = ['EPERM', 'ENOENT', 'EINVAL', 'EEXIST', 'ENOSPC', 'EACCES', 'ENOSYS', 'ENOMEM', 'EBUSY', 'EOPNOTSUPP'];

/**
 * A BpfError for a failed bpf(2): EPERM and ENOSYS get a sentence saying what to do, since
 * they mean "not permitted here" and "not in this kernel" rather than a famfs bug.
 */
export function bpfErrorFrom(err: unknown, what: string): BpfError {
  if (err instanceof BpfError) return err;
  if (!isNativeError(err)) return new BpfError('EIO', `${what}: ${err instanceof Error ? err.message : String(err)}`);
  const code = (KNOWN as readonly string[]).includes(err.code) ? err.code as ErrnoName : 'EIO';
  const log = (err as { verifierLog?: unknown }).verifierLog;
  if (err.code === 'EPERM' || err.code === 'EACCES') {
    return new BpfError(code, `${what}: BPF is not permitted for this process (${err.code}): run as root or with CAP_BPF (and CAP_PERFMON/CAP_NET_ADMIN for some program types); see sysctl kernel.unprivileged_bpf_disabled`);
  }
  if (err.code === 'E2BIG') return new BpfError('ENOSPC', `${what}: the BPF map is full (max_entries reached)`);
  if (err.code === 'ENOSYS') return new BpfError('ENOSYS', `${what}: this kernel has no bpf(2) (CONFIG_BPF_SYSCALL is off)`);
  return new BpfError(code, `${what}: ${err.message}`, typeof log === 'string' ? log : undefined);
}
