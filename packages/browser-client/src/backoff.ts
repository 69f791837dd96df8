/** Reconnection policy shared by both transports. */
export interface ReconnectOptions {
  /**
   * Base delay in ms before the first retry (default 1000). A server's SSE
   * `retry:` replaces it. Neither can go below {@link MIN_RETRY_DELAY_MS}.
   */
  readonly initialDelayMs?: number;
  /** Ceiling of the backoff window in ms (default 30000). */
  readonly maxDelayMs?: number;
  /** Consecutive failed attempts before giving up with status `closed` (default Infinity). */
  readonly maxAttempts?: number;
}

/**
 * Liveness, with the same names on both transports. SSE: the server tells
 * its keep-alive period in the first `keepalive` frame of every stream, and
 * `keepAliveMs` is only what the client assumes until then. WebSocket: the
 * client sends a `ping` envelope every `keepAliveMs`, which the server
 * answers. Either way a connection (or a connection attempt) on which no
 * frame at all arrived for `missedKeepAlives` periods is taken for dead — a
 * link that went silent without FIN or RST — and replaced, resuming from the
 * last event id: the client emits `error` with code `timeout` and goes
 * `reconnecting`. Worst case to notice: `missedKeepAlives` × period (30 s
 * with the defaults and sse-server's default `keepAliveMs`).
 */
export interface KeepAliveOptions {
  /** Period in ms (default 15000): SSE, until the server announces its own; WS, between pings. */
  readonly keepAliveMs?: number | undefined;
  /** Periods of total silence after which the connection is replaced (default 2); 0 turns the check off. */
  readonly missedKeepAlives?: number | undefined;
}

/**
 * The least delay before any reconnect, in ms. Whatever `retry:` a server
 * sends (`retry: 0` included) and whatever `initialDelayMs` says, a client
 * never reconnects in a tight loop.
 */
export const MIN_RETRY_DELAY_MS = 250;

/**
 * How long (ms) a connection must stay open before the backoff starts over.
 * Resetting on `open` alone let a server (or proxy) that accepts and closes
 * at once keep every client reconnecting at the floor rate for ever.
 */
export const STABLE_CONNECTION_MS = 5000;

/**
 * Exponential backoff with "full jitter" above a floor: the delay is uniform
 * in [floor, max(floor, min(max, base·2^attempt))), with `floor` =
 * {@link MIN_RETRY_DELAY_MS} and `base` raised to it. Spreading retries over
 * the whole window is what keeps a room full of dashboards from reconnecting
 * in lock-step after a server restart; the floor is what keeps `retry: 0`
 * from becoming a request storm.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random) {
  const floor = MIN_RETRY_DELAY_MS;
  // `|| 0`: a NaN from a bad setting must land on the floor, not become a 0 ms timer.
  const window = Math.max(floor, Math.min(maxMs || 0, Math.max(floor, baseMs || 0) * 2 ** attempt));
  return Math.floor(floor + random() * (window - floor));
}

/**
 * The least keep-alive period (ms) a new connection attempt assumes after a
 * server announced a shorter one: with the default `missedKeepAlives` a dial
 * gets at least 2 s to see its first byte.
 */
export const MIN_DIAL_KEEPALIVE_MS = 1000;

/**
 * A liveness timer for one connection attempt: `dead` runs once when no
 * `beat()` came for `missedKeepAlives` periods. `beat(ms)` also adopts a
 * period the server announced (SSE `keepalive`), and keeps it in `keep` for
 * the next attempts to the same server; `ms` = 0 means the server sends no
 * more keep-alives, so silence cannot be told from idleness and this
 * attempt's check stops. Started at dial time, so a request that never gets
 * an answer through a stalled link is bounded too.
 */
export function watchdog(
  keep: { keepAliveMs?: number | undefined; readonly missedKeepAlives?: number | undefined },
  dead: (silentMs: number) => void,
) {
  let period = keep.keepAliveMs ?? 15_000;
  const missed = keep.missedKeepAlives ?? 2;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => clearTimeout(timer);
  const beat = (ms?: unknown) => {
    if (typeof ms === 'number' && ms >= 0) {
      period = ms;
      // Carried to the next attempts, where it bounds the wait for a first
      // byte: floored, so a server announcing 10 ms (or a hostile 1 ms) cannot
      // make every later dial time out before any answer could arrive, which
      // would leave the client reconnecting forever.
      if (ms) keep.keepAliveMs = Math.max(ms, MIN_DIAL_KEEPALIVE_MS);
    }
    stop();
    const limit = period * missed;
    // Clamped: a delay past 2^31-1 ms would fire at once.
    if (limit > 0) timer = setTimeout(() => dead(limit), Math.min(limit, 2 ** 31 - 1));
  };
  beat();
  return { beat, stop };
}
