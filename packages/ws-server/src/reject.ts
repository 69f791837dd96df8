import type { Duplex } from 'node:stream';
import type { BoardcastError } from '@boardcast/core';
import { refuseUpgrade, retryAfterHeader } from '@boardcast/core/server';

/**
 * Refuse an upgrade with a plain HTTP response and a JSON error body, before
 * any WebSocket exists (core's `refuseUpgrade`, shared with the upgrade
 * registry). Browsers hide the body from scripts, but curl, `ws` clients
 * (`unexpected-response`) and proxies' logs show it. A 429 or 503 whose
 * error says how long to wait carries `Retry-After` (core's `retryAfterHeader`:
 * `ceil(details.retryAfterMs / 1000)` s, at least 1); one in `headers` wins.
 */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  error: BoardcastError,
  headers?: Readonly<Record<string, string>>,
): void {
  refuseUpgrade(socket, error, status, { ...retryAfterHeader(error, status), ...headers });
}
