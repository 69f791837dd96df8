/** Reconnection policy shared by both transports. */
export interface ReconnectOptions {
  /** Base delay in ms before the first retry (default 1000). A server's SSE `retry:` replaces it. */
  readonly initialDelayMs?: number;
  /** Ceiling of the backoff window in ms (default 30000). */
  readonly maxDelayMs?: number;
  /** Consecutive failed attempts before giving up with status `closed` (default Infinity). */
  readonly maxAttempts?: number;
}

/**
 * Exponential backoff with "full jitter": the delay is uniform in
 * [0, min(max, base·2^attempt)). Spreading retries over the whole window is
 * what keeps a room full of dashboards from reconnecting in lock-step after
 * a server restart.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random) {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}
