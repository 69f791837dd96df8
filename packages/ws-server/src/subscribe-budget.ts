/**
 * A per-socket token bucket for `subscribe` frames, counted in channels
 * named. Each channel added costs the hub an access check, a snapshot or a
 * `forbidden` frame and an entry in the answer, so a client could otherwise
 * send frame after frame of 1,000 names and spend everyone's CPU and
 * bandwidth (`maxInFlight` only bounds frames waiting at once, not how fast
 * they come). Core's `RateLimiter` takes one token per call and is keyed by
 * principal; this one takes a frame's whole cost and lives with the socket.
 */
export class SubscribeBudget {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  /** Channels asked for and refused since the last admitted frame: how hard the client keeps pushing. */
  #overdraft = 0;
  readonly #now: () => number;

  /** `rate` channels per second, up to `burst` at once (both already checked by `resolveOptions`). */
  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    this.rate = rate;
    this.burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  /**
   * Spend a frame's tokens (see `#cost`): `'ok'`
   * when the bucket holds them, `'refused'` when it does not, `'abuse'` once
   * the channels refused since the last admitted frame reach a second
   * `burst` — a client that does not wait for its budget to refill.
   */
  take(channels: number): 'ok' | 'refused' | 'abuse' {
    const cost = this.#cost(channels);
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      this.#overdraft = 0;
      return 'ok';
    }
    this.#overdraft += cost;
    return this.#overdraft >= this.burst ? 'abuse' : 'refused';
  }

  /** A frame costs one token per channel, at least one and at most `burst` (so a full bucket admits any frame). */
  #cost(channels: number): number {
    return Math.min(this.burst, Math.max(1, channels));
  }

  /** Seconds until a frame of `channels` would be admitted (for the error message). */
  waitSeconds(channels: number): number {
    const missing = this.#cost(channels) - this.#tokens;
    return Math.max(0, missing / this.rate);
  }
}
