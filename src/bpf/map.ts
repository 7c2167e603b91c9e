import { closeSync } from 'node:fs';
import { bpfErrorFrom, BpfError } from './errors.js';
import { type BpfMapInfo, loadBpfNative } from './native.js';
import { BPF_ANY } from './uapi.js';

export interface MapSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** A BPF map through its file descriptor: created here, or opened from its pin. */
export class BpfMap {
  private closed = false;

  private constructor(readonly fd: number, readonly info: BpfMapInfo) {}

  static create(spec: MapSpec): BpfMap {
    const bpf = loadBpfNative();
    let fd: number;
    try {
      fd = bpf.bpfMapCreate(spec.type, spec.keySize, spec.valueSize, spec.maxEntries, spec.flags, spec.name);
    } catch (err) {
      throw bpfErrorFrom(err, `creating BPF map ${spec.name}`);
    }
    return BpfMap.fromFd(fd);
  }

  /** The map pinned at `path` (BPF_OBJ_GET), checked against `expect` when given. */
  static openPinned(path: string, expect?: Partial<MapSpec>, fileFlags = 0): BpfMap {
    let fd: number;
    try {
      fd = loadBpfNative().bpfObjGet(path, fileFlags);
    } catch (err) {
      throw bpfErrorFrom(err, `opening pinned BPF map ${path}`);
    }
    const map = BpfMap.fromFd(fd);
    const i = map.info;
    if (expect && ((expect.type !== undefined && i.type !== expect.type) || (expect.keySize !== undefined && i.keySize !== expect.keySize)
      || (expect.valueSize !== undefined && i.valueSize !== expect.valueSize))) {
      map.close();
      throw new BpfError('EINVAL', `${path} is a BPF map of type ${i.type} with ${i.keySize}-byte keys and ${i.valueSize}-byte values, not the expected ${expect.type}/${expect.keySize}/${expect.valueSize}`);
    }
    return map;
  }

  private static fromFd(fd: number): BpfMap {
    try {
      return new BpfMap(fd, loadBpfNative().bpfMapInfo(fd));
    } catch (err) {
      closeSync(fd);
      throw bpfErrorFrom(err, 'reading BPF map info');
    }
  }

  private checkKey(key: Uint8Array): void {
    if (key.length !== this.info.keySize) throw new BpfError('EINVAL', `BPF map ${this.info.name}: key of ${key.length} bytes, map wants ${this.info.keySize}`);
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkKey(key);
    if (value.length !== this.info.valueSize) throw new BpfError('EINVAL', `BPF map ${this.info.name}: value of ${value.length} bytes, map wants ${this.info.valueSize}`);
    try {
      loadBpfNative().bpfMapUpdate(this.fd, key, value, flags);
    } catch (err) {
      throw bpfErrorFrom(err, `updating BPF map ${this.info.name}`);
    }
  }

  /** The value, or undefined when the key is absent. */
  lookup(key: Uint8Array): Buffer | undefined {
    this.checkKey(key);
    const out = Buffer.alloc(this.info.valueSize);
    try {
      return loadBpfNative().bpfMapLookup(this.fd, key, out) ? out : undefined;
    } catch (err) {
      throw bpfErrorFrom(err, `looking up BPF map ${this.info.name}`);
    }
  }

  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    try {
      return loadBpfNative().bpfMapDelete(this.fd, key);
    } catch (err) {
      throw bpfErrorFrom(err, `deleting from BPF map ${this.info.name}`);
    }
  }

  /** Every key, collected first: a hash map's iteration restarts if keys vanish under it. */
  keys(): Buffer[] {
    const bpf = loadBpfNative();
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.info.keySize);
      if (!bpf.bpfMapNextKey(this.fd, prev, next)) return out;
      out.push(next);
      prev = next;
    }
  }

  pin(path: string): void {
    try {
      loadBpfNative().bpfObjPin(this.fd, path);
    } catch (err) {
      throw bpfErrorFrom(err, `pinning BPF map at ${path}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
