/** What the session and its device-reader threads share. */

/** Index of the in-flight request counter in the shared control array. */
export const CTL_INFLIGHT = 0;
export const CTL_SLOTS = 1;

export interface ReaderConfig {
  readonly fd: number;
  readonly bufferSize: number;
  /** Int32Array over it: [CTL_INFLIGHT]. */
  readonly control: SharedArrayBuffer;
  /** A reader waits before reading another request while this many are unanswered. */
  readonly maxInflight: number;
  /** Requests at least this large move their buffer to the session instead of being copied. */
  readonly transferThreshold: number;
}

/** Reader → session: a request is sent as a bare ArrayBuffer (length in its header); else one of these. */
export interface ReaderEnd {
  readonly kind: 'end';
  /** errno code of the read that ended the loop: ENODEV (unmounted), ECONNABORTED (aborted), … */
  readonly code: string;
  readonly message: string;
}
