import { RateLimiter } from '@boardcast/core/server';

/** The one key of a socket's own bucket. */
const SOCKET = '';

/**
 * A socket's budget for `subscribe` frames, counted in channels named. Each
 * channel added costs the hub an access check, a snapshot or a `forbidden`
 * frame and an entry in the answer, so a client could otherwise send frame
 * after frame of 1,000 names and spend everyone's CPU and bandwidth
 * (`maxInFlight` only bounds frames waiting at once, not how fast they
 * come). The bucket is core's `RateLimiter` (the one behind the hub's
 * `commandsPerSecond`), one per socket; what is ws-server's own is the cost
 * of a frame and telling a client that waits from one that keeps pushing.
 */
export class SubscribeBudget {
  readonly #bucket: RateLimiter;
  /** Channels asked for and refused since the last admitted frame: how hard the client keeps pushing. */
  #overdraft = 0;

  /** `rate` channels per second, up to `burst` at once (both already checked by `resolveOptions`). */
  constructor(rate: number, burst: number, now?: () => number) {
    this.#bucket = new RateLimiter(rate, burst, now);
  }

  /** Channels per second (`channelsPerSecond`). */
  get rate(): number {
    return this.#bucket.rate;
  }

  /** Channels at once (`channelBurst`). */
  get burst(): number {
    return this.#bucket.burst;
  }

  /**
   * Spend a frame's tokens (see `#cost`): `'ok'` when the bucket holds them,
   * `'refused'` when it does not, `'abuse'` once the channels refused since
   * the last admitted frame reach a second `burst` — a client that does not
   * wait for its budget to refill.
   */
  take(channels: number): 'ok' | 'refused' | 'abuse' {
    const cost = this.#cost(channels);
    if (this.#bucket.take(SOCKET, cost)) {
      this.#overdraft = 0;
      return 'ok';
    }
    this.#overdraft += cost;
    return this.#overdraft >= this.burst ? 'abuse' : 'refused';
  }

  /** Seconds until a frame of `channels` would be admitted (for the error message). */
  waitSeconds(channels: number): number {
    return this.#bucket.waitMs(SOCKET, this.#cost(channels)) / 1000;
  }

  /** A frame costs one token per channel, at least one and at most `burst` (so a full bucket admits any frame). */
  #cost(channels: number): number {
    return Math.min(this.burst, Math.max(1, channels));
  }
}
