/** How long, in ms, a bucket is left alone between sweeps for buckets that are full again. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Token buckets, one per key: each holds up to `burst` tokens, starts full
 * and gains `rate` tokens per second; a request costs tokens, and is refused
 * (nothing spent) when its bucket holds fewer. The hub keys one by principal
 * for `commandsPerSecond`/`commandBurst` (one token per command); ws-server
 * gives each socket one for `channelsPerSecond`/`channelBurst` (a
 * `subscribe` frame costs one token per channel it names).
 *
 * Memory: a bucket that has refilled to `burst` is the same as none, so at
 * most once a minute the full ones are dropped; the buckets held are those
 * of keys that spent tokens within the last `burst / rate` seconds plus a
 * minute. Dropping one never changes an answer.
 *
 * `now` is a clock in milliseconds (default `performance.now()`; tests pass
 * a fake one).
 */
export class RateLimiter {
  /** Tokens a bucket gains per second. */
  readonly rate: number;
  /** Tokens a bucket holds at most (and starts with). */
  readonly burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;
  #sweptAt = 0;

  /** `rate` > 0 and `burst` ≥ 1, both finite; otherwise `RangeError`. */
  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    if (!(rate > 0 && rate < Number.POSITIVE_INFINITY) || !(burst >= 1 && burst < Number.POSITIVE_INFINITY)) {
      throw new RangeError('rate must be > 0 and burst ≥ 1 (both finite)');
    }
    this.rate = rate;
    this.burst = burst;
    this.#now = now;
  }

  /**
   * Take `cost` tokens (default 1) from `key`'s bucket: `true` when it held
   * them (they are spent), `false` when not (nothing is spent; see
   * {@link waitMs}). `RangeError` unless `0 < cost ≤ burst`: a bigger cost
   * could never be paid.
   */
  take(key: string, cost = 1): boolean {
    this.#check(cost);
    const now = this.#now();
    if (now - this.#sweptAt > SWEEP_INTERVAL_MS) this.#sweep(now);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = this.#refilled(bucket, now);
      bucket.at = now;
    }
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /**
   * Milliseconds until `key`'s bucket holds `cost` tokens (default 1): 0
   * when it does now; after a refused {@link take}, how long the caller
   * should wait (e.g. a 429's `details.retryAfterMs`). Changes nothing.
   * `RangeError` as for `take`.
   */
  waitMs(key: string, cost = 1): number {
    this.#check(cost);
    const bucket = this.#buckets.get(key);
    if (!bucket) return 0;
    const missing = cost - this.#refilled(bucket, this.#now());
    return missing > 0 ? (missing / this.rate) * 1000 : 0;
  }

  /** Buckets held now: keys whose bucket is not known to be full. */
  get size(): number {
    return this.#buckets.size;
  }

  #check(cost: number): void {
    if (!(cost > 0 && cost <= this.burst)) throw new RangeError(`cost must be > 0 and ≤ burst (${this.burst})`);
  }

  #refilled(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, bucket] of this.#buckets) if (this.#refilled(bucket, now) >= this.burst) this.#buckets.delete(key);
  }
}
