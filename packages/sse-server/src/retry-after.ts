import type { BoardcastError } from '@boardcast/core';

/**
 * The `Retry-After` header (delay-seconds) for an error answer, when the
 * error says how long to wait: `details.retryAfterMs`, a finite number of
 * milliseconds ≥ 0 (what `createTokenAccess`'s throttle attaches, and what
 * an app's `authorize` may attach to its own `too_many_requests`). Sent with
 * 429 (RFC 6585 §4) and 503, the answers whose meaning includes "later"
 * (RFC 9110 §10.2.3). The value is whole seconds rounded up, at least 1: a
 * client told 0 would retry at once, before the wait is over. An error that
 * says nothing gets no header — a made-up delay would be a guess.
 */
export function retryAfterHeader(error: BoardcastError, status = error.status): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  const ms = (error.details as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) };
}
