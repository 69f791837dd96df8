import type { BoardcastError } from './errors.js';

/**
 * The `Retry-After` header (delay-seconds, RFC 9110 §10.2.3) for an HTTP
 * error answer, when the error says how long to wait: its
 * `details.retryAfterMs`, a finite number of milliseconds ≥ 0 — what the
 * hub's `commandsPerSecond` refusal carries, what sse-server's
 * `createTokenAccess` throttle attaches, and what an app's `authorize` may
 * attach to its own `too_many_requests`.
 *
 * - Only with status 429 (RFC 6585 §4) and 503 (RFC 9110 §15.6.4), the
 *   answers whose meaning includes "later"; `status` defaults to the
 *   error's own (pass the status actually sent when it differs).
 * - The value is whole seconds rounded up, at least 1: `ceil(ms / 1000)`,
 *   so a client that waits it is admitted, and one told `0` would retry at
 *   once, before the wait is over.
 * - An error that names no wait (no detail, a negative, non-finite or
 *   non-number one) gets no header: a made-up delay would be a guess.
 *
 * ```ts
 * retryAfterHeader(new BoardcastError('too_many_requests', '…', { details: { retryAfterMs: 2001 } }));
 * // { 'Retry-After': '3' }
 * ```
 *
 * Returns `{}` or `{ 'Retry-After': '<seconds>' }`, to spread into an
 * answer's headers. Every boardcast HTTP answer and refused WebSocket
 * upgrade uses this rule; an app's own endpoint can do the same.
 */
export function retryAfterHeader(error: BoardcastError, status: number = error.status): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  const ms = (error.details as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) };
}
