import type { Duplex } from 'node:stream';
import type { BoardcastError } from '@boardcast/core';
import { refuseUpgrade } from '@boardcast/core/server';

/**
 * Refuse an upgrade with a plain HTTP response and a JSON error body, before
 * any WebSocket exists (core's `refuseUpgrade`, shared with the upgrade
 * registry). Browsers hide the body from scripts, but curl, `ws` clients
 * (`unexpected-response`) and proxies' logs show it. A 429 or 503 whose
 * error says how long to wait carries `Retry-After` (see {@link retryAfterHeader});
 * one in `headers` wins.
 */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  error: BoardcastError,
  headers?: Readonly<Record<string, string>>,
): void {
  refuseUpgrade(socket, error, status, { ...retryAfterHeader(error, status), ...headers });
}

/**
 * `Retry-After` (delay-seconds) when the error says how long to wait:
 * `details.retryAfterMs`, finite and ≥ 0 (what sse-server's
 * `createTokenAccess` throttle attaches, or an app's `authorize` its own
 * `too_many_requests`). Only with 429 (RFC 6585 §4) and 503 (RFC 9110
 * §10.2.3); whole seconds rounded up, at least 1 (0 would invite a retry
 * before the wait is over). No detail, no header: a made-up delay is a guess.
 * The same rule as sse-server's error answers.
 */
export function retryAfterHeader(error: BoardcastError, status = error.status): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  const ms = (error.details as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) };
}
