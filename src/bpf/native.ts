import { loadNative } from '../addon.js';
import { BpfError } from './errors.js';

/**
 * The bpf(2) half of the famfs_native addon (native/bpf.c): one system call per function, on
 * buffers the caller owns. File descriptors are plain numbers the caller closes with
 * fs.closeSync. Failures throw the addon's NativeError (code, errno, syscall); a refused
 * program load also carries the verifier's log in `verifierLog`.
 */
export interface BpfMapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

export interface BpfTestRunResult {
  /** The program's return value, signed (our programs return 0 or -errno). */
  retval: number;
  /** Average ns per run, as the kernel measured it over `repeat` runs (0 where not timed). */
  duration: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

type OptBytes = Uint8Array | null | undefined;

export interface BpfNative {
  bpfMapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags: number, name: string): number;
  bpfMapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  /** False when the key is absent; the value is written into `valueOut`. */
  bpfMapLookup(fd: number, key: Uint8Array, valueOut: Uint8Array): boolean;
  /** False when the key was absent. */
  bpfMapDelete(fd: number, key: Uint8Array): boolean;
  /** The key after `key` (the first key when null) into `nextOut`; false after the last. */
  bpfMapNextKey(fd: number, key: Uint8Array | null, nextOut: Uint8Array): boolean;
  bpfMapInfo(fd: number): BpfMapInfo;
  bpfObjPin(fd: number, path: string): void;
  bpfObjGet(path: string, fileFlags: number): number;
  bpfProgLoad(type: number, insns: Uint8Array, license: string, name: string, progFlags: number,
    expectedAttachType: number, logSize: number): number;
  bpfProgTestRun(fd: number, dataIn: OptBytes, dataOut: OptBytes, ctxIn: OptBytes, ctxOut: OptBytes,
    repeat: number, flags: number): BpfTestRunResult;
  /** mount -t bpf bpf <path> */
  bpffsMount(path: string): void;
  umount(path: string): void;
}

let cached: BpfNative | undefined;

/** The addon's bpf functions; ENOSYS when the addon was built without native/bpf.c. */
export function loadBpfNative(): BpfNative {
  if (cached) return cached;
  const mod: object = loadNative();
  if (!('bpfProgTestRun' in mod) || typeof mod.bpfProgTestRun !== 'function') {
    throw new BpfError('ENOSYS', 'the native addon has no bpf functions: rebuild it (npm install)');
  }
  cached = mod as BpfNative;
  return cached;
}
