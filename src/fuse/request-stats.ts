/**
 * Per-opcode request counts, errors and latency buckets of a FUSE session, kept in plain typed
 * arrays indexed by opcode: the request path does a few array increments and two clock reads, and
 * whoever exports them (the daemon's Prometheus registry) reads them when scraped. Nothing here
 * allocates per request.
 */

/** Opcodes counted in their own slot; anything at or past it (CUSE_INIT) shares the last slot. */
const STATS_OPCODE_SLOTS = 128;

/**
 * Latency bucket upper bounds in microseconds: 1, 2, 4, … 2^20 (about 1 s), then +Inf. Powers of
 * two so a request's bucket is one Math.clz32, never a search.
 */
const LATENCY_BUCKETS = 21;
export const LATENCY_BOUNDS_US: readonly number[] = Array.from({ length: LATENCY_BUCKETS }, (_v, i) => 2 ** i);
/** Slots per opcode in the bucket array: the bounded buckets and +Inf. */
const BUCKET_SLOTS = LATENCY_BUCKETS + 1;
const US_PER_MS = 1000;
const BITS_32 = 32;

/** One opcode's figures, as a scrape reads them. */
export interface OpcodeFigures {
  opcode: number;
  requests: number;
  errors: number;
  /** Non-cumulative counts per bucket of LATENCY_BOUNDS_US, then the +Inf bucket. */
  buckets: number[];
  /** Sum of latencies in seconds. */
  latencySum: number;
}

export class RequestStats {
  /** Requests received, by opcode slot. */
  readonly requests = new Float64Array(STATS_OPCODE_SLOTS);
  /** Requests answered with an error, by opcode slot. */
  readonly errors = new Float64Array(STATS_OPCODE_SLOTS);
  /** Answered requests per latency bucket: slot * BUCKET_SLOTS + bucket. */
  private readonly buckets = new Float64Array(STATS_OPCODE_SLOTS * BUCKET_SLOTS);
  /** Sum of latencies in milliseconds, by opcode slot. */
  private readonly latencyMs = new Float64Array(STATS_OPCODE_SLOTS);
  total = 0;

  static slot(opcode: number): number {
    return opcode < STATS_OPCODE_SLOTS ? opcode : STATS_OPCODE_SLOTS - 1;
  }

  received(opcode: number): void {
    this.requests[RequestStats.slot(opcode)]!++;
    this.total++;
  }

  /** A request answered after `ms` milliseconds (performance.now() differences). */
  answered(opcode: number, ms: number, failed: boolean): void {
    const slot = RequestStats.slot(opcode);
    if (failed) this.errors[slot]!++;
    this.latencyMs[slot]! += ms;
    // Whole microseconds, rounded up: bucket i holds latencies <= 2^i µs.
    const us = Math.ceil(ms * US_PER_MS);
    const b = us <= 1 ? 0 : BITS_32 - Math.clz32(us - 1);
    this.buckets[slot * BUCKET_SLOTS + (b < LATENCY_BUCKETS ? b : LATENCY_BUCKETS)]!++;
  }

  /** Every opcode seen so far, for a scrape (not for the request path). */
  figures(): OpcodeFigures[] {
    const out: OpcodeFigures[] = [];
    for (let slot = 0; slot < STATS_OPCODE_SLOTS; slot++) {
      if (this.requests[slot] === 0) continue;
      const at = slot * BUCKET_SLOTS;
      out.push({
        opcode: slot, requests: this.requests[slot]!, errors: this.errors[slot]!,
        buckets: Array.from(this.buckets.subarray(at, at + BUCKET_SLOTS)), latencySum: this.latencyMs[slot]! / US_PER_MS,
      });
    }
    return out;
  }
}
