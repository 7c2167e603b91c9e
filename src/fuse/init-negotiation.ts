/**
 * INIT negotiation (go-fuse's doInit, libfuse's do_init): from the kernel's fuse_init_in and what
 * this server wants, the fuse_init_out to send. A pure function: no I/O and no session state, so
 * every kernel generation can be tested from hand-built bytes; the session decodes the request,
 * calls it, writes the reply and keeps the result.
 *
 * The rules (fuse-protocol.md §1.2; the kernel's process_init_reply):
 * - A major below ours is refused with EPROTO. A newer major gets a reply carrying only our
 *   version; the kernel then sends a new INIT at that version.
 * - The minor spoken is min(kernel's, ours). The reply is cut to the size the kernel's minor
 *   knows (it refuses a longer one), and fields that minor does not have stay zero:
 *   max_background and congestion_threshold from 7.13, time_gran from 7.23.
 * - Only bits both sides set are granted, and bits 32–63 (flags2) only with INIT_EXT.
 * - max_pages is sent with MAX_PAGES only; without it the kernel keeps its default of 32 pages.
 */
import { FUSE_KERNEL_VERSION, InitFlag, PAGE_SIZE, U32_MASK_BIG } from './abi/constants.js';
import { encodeInitOut, initOutSize, type InitIn } from './abi/init.js';
import { FuseError } from './errors.js';
import type { Filesystem, InitResult } from './filesystem.js';

/** What the server brings to the negotiation. */
export interface ServerInit {
  /**
   * INIT bits the server would use (flags | flags2 << 32): this layer's, the file system's and the
   * transport's (OVER_IO_URING for io_uring). Only those the kernel offers are granted.
   */
  readonly wanted: bigint;
  /** Newest minor the server speaks; the reply carries min(kernel's, this). */
  readonly maxMinor: number;
  /** Largest WRITE (and, via max_pages, READ) payload; a multiple of the page size. */
  readonly maxWrite: number;
  /** Asynchronous requests the kernel may queue; capped to the u16 field. */
  readonly maxBackground: number;
  /** Timestamp granularity in nanoseconds. */
  readonly timeGranNs: number;
}

export type InitDecision =
  /** Serve at the negotiated version: send `reply`, then requests follow. */
  | { readonly kind: 'accept'; readonly reply: Buffer; readonly result: InitResult }
  /** The kernel's major is newer: send `reply` (our version only) and wait for its next INIT. */
  | { readonly kind: 'retry'; readonly reply: Buffer }
  /** The kernel's major is older than any we speak: answer `error` (EPROTO). */
  | { readonly kind: 'refuse'; readonly error: FuseError };

/** First minor with max_background and congestion_threshold in fuse_init_out. */
const MINOR_MAX_BACKGROUND = 13;
/** First minor with time_gran in fuse_init_out. */
const MINOR_TIME_GRAN = 23;
const U16_MAX = 0xffff;
/** The kernel's default congestion threshold is 3/4 of max_background; keep that ratio. */
const CONGESTION_NUM = 3;
const CONGESTION_DEN = 4;

/** Bits this layer asks for on every mount (each granted only if the kernel offers it). */
const ALWAYS_WANTED =
  InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.PARALLEL_DIROPS |
  InitFlag.ABORT_ERROR | InitFlag.INIT_EXT;

/**
 * What this layer wants for a file system, before the file system's own bits: the fixed set, and
 * READDIRPLUS when it serves readdirplus; READDIRPLUS_AUTO (the kernel then picks plain READDIR at
 * times) only when it serves both.
 */
export function layerWants(fs: Pick<Filesystem, 'readdir' | 'readdirplus'>): bigint {
  let wanted = ALWAYS_WANTED;
  if (fs.readdirplus !== undefined) {
    wanted |= InitFlag.DO_READDIRPLUS;
    if (fs.readdir !== undefined) wanted |= InitFlag.READDIRPLUS_AUTO;
  }
  return wanted;
}

export function negotiateInit(offer: InitIn, server: ServerInit): InitDecision {
  if (offer.major < FUSE_KERNEL_VERSION) {
    return {
      kind: 'refuse',
      error: new FuseError('EPROTO', `kernel speaks FUSE ${offer.major}.${offer.minor}, need ${FUSE_KERNEL_VERSION}.x`),
    };
  }
  if (offer.major > FUSE_KERNEL_VERSION) {
    const reply = encodeInitOut({
      major: FUSE_KERNEL_VERSION, minor: server.maxMinor, maxReadahead: 0, flags: 0n,
      maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0,
    });
    return { kind: 'retry', reply };
  }
  let flags = server.wanted & offer.flags;
  if ((flags & InitFlag.INIT_EXT) === 0n) flags &= U32_MASK_BIG;
  const minor = Math.min(offer.minor, server.maxMinor);
  const maxPages = (flags & InitFlag.MAX_PAGES) !== 0n ? Math.min(server.maxWrite / PAGE_SIZE, U16_MAX) : 0;
  const maxBackground = offer.minor >= MINOR_MAX_BACKGROUND ? Math.min(server.maxBackground, U16_MAX) : 0;
  const out = encodeInitOut({
    major: FUSE_KERNEL_VERSION,
    minor,
    maxReadahead: offer.maxReadahead,
    flags,
    maxBackground,
    congestionThreshold: Math.floor((maxBackground * CONGESTION_NUM) / CONGESTION_DEN),
    maxWrite: server.maxWrite,
    timeGran: offer.minor >= MINOR_TIME_GRAN ? server.timeGranNs : 0,
    maxPages,
  });
  const result: InitResult = {
    major: FUSE_KERNEL_VERSION,
    minor,
    kernelMinor: offer.minor,
    offered: offer.flags,
    flags,
    maxWrite: server.maxWrite,
    maxPages,
    maxReadahead: offer.maxReadahead,
  };
  return { kind: 'accept', reply: out.subarray(0, initOutSize(offer.minor)), result };
}
