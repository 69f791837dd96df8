/**
 * Credentials that expire. An `authorize` hook that answers an object with
 * a numeric `expiresAt` (ms since the epoch: a token's `exp` × 1000, a
 * session's end) says how long the client's right lasts: every transport
 * refuses a request whose credential has already expired (401
 * `unauthorized`) and ends a live stream or socket at that time, so a
 * revoked or rotated credential does not keep a page live for ever.
 */

/** The `expiresAt` of what `authorize` returned (ms since the epoch), or `undefined` when it has none. */
export function credentialExpiry(auth: unknown): number | undefined {
  if (auth === null || typeof auth !== 'object') return undefined;
  const value = (auth as { readonly expiresAt?: unknown }).expiresAt;
  return typeof value === 'number' && !Number.isNaN(value) ? value : undefined;
}

/** setTimeout's longest delay (2^31 − 1 ms, 24.8 days); a longer wait is chained. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Call `fn` once at `expiresAt` (ms since the epoch; at once when it has
 * passed). Returns the function that cancels it. The timer never keeps the
 * process alive.
 */
export function onExpiry(expiresAt: number, fn: () => void, now: () => number = Date.now): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const arm = (): void => {
    if (cancelled) return;
    const wait = expiresAt - now();
    if (!(wait > 0)) {
      cancelled = true;
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
    (timer as { unref?: () => void }).unref?.();
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
