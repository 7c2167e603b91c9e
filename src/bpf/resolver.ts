import { existsSync } from 'node:fs';
import { BpfError } from './errors.js';
import { FMAP_KEY_SIZE, FMAP_VALUE_SIZE } from './fmap-layout.js';
import { BpfObject, type LoadedProgram, testRun } from './loader.js';
import type { BpfMap } from './map.js';
import { RESOLVE_RECORD_SIZE, readResolveAnswer, type ResolveAnswer, writeResolveRequest } from './resolve-record.js';
import { resolverObjectPath } from './pins.js';

/** Symbol names in bpf/famfs_resolve.bpf.c. */
const RESOLVE_MAP_SYMBOL = 'famfs_fmap';
const RESOLVE_SYSCALL_PROG = 'famfs_resolve';
const RESOLVE_XDP_PROG = 'famfs_resolve_xdp';

/** An answer and what the kernel measured: the average ns per run over `repeat` runs. */
export interface TimedAnswer extends ResolveAnswer {
  nsPerRun: number;
}

/**
 * The resolver program loaded against a published fmap map. `resolve` runs the SYSCALL
 * program (one BPF_PROG_TEST_RUN per call, the request and answer in its context);
 * `resolveTimed` runs the XDP copy `repeat` times in the kernel for a per-resolution cost.
 */
export class BpfResolver {
  private readonly req = Buffer.alloc(RESOLVE_RECORD_SIZE);
  private readonly out = Buffer.alloc(RESOLVE_RECORD_SIZE);

  private constructor(private readonly obj: BpfObject, readonly syscallProg: LoadedProgram, readonly xdpProg: LoadedProgram) {}

  static load(fmapMap: BpfMap, objectPath = resolverObjectPath()): BpfResolver {
    if (!existsSync(objectPath)) {
      throw new BpfError('ENOENT', `the BPF resolver is not built (${objectPath} is missing): install clang and run npm install`);
    }
    if (fmapMap.info.keySize !== FMAP_KEY_SIZE || fmapMap.info.valueSize !== FMAP_VALUE_SIZE) {
      throw new BpfError('EINVAL', `map ${fmapMap.info.name} is not a famfs fmap map`);
    }
    const obj = BpfObject.load(objectPath, { [RESOLVE_MAP_SYMBOL]: fmapMap });
    return new BpfResolver(obj, obj.program(RESOLVE_SYSCALL_PROG), obj.program(RESOLVE_XDP_PROG));
  }

  /** Where byte `offset` of inode `ino` lives; `length` 0 asks for the rest of the piece. */
  resolve(ino: number, offset: number, length = 0): ResolveAnswer {
    writeResolveRequest(this.req, ino, offset, length);
    const r = testRun(this.syscallProg, { ctxIn: this.req });
    const answer = readResolveAnswer(this.req);
    if (r.retval !== answer.rc) throw new BpfError('EIO', `resolver returned ${r.retval} but answered rc ${answer.rc}`);
    return answer;
  }

  resolveTimed(ino: number, offset: number, length: number, repeat: number): TimedAnswer {
    writeResolveRequest(this.req, ino, offset, length);
    const r = testRun(this.xdpProg, { dataIn: this.req, dataOut: this.out, repeat });
    return { ...readResolveAnswer(this.out), nsPerRun: r.duration };
  }

  close(): void {
    this.obj.close();
  }
}
