import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type BoardcastError, ERROR_CODES } from '@boardcast/core';
import type { WebSocketServer } from 'ws';

/**
 * Close codes an endpoint must never send (RFC 6455 §7.4.1): 1005 (no status),
 * 1006 (abnormal closure) and 1015 (TLS failure) only describe a close seen
 * locally. Core's table gives 1006 to its client-side codes (`network_error`,
 * `upgrade_failed`), which a server does not refuse with, but the rule holds
 * for any code.
 */
const RESERVED_CLOSE_CODES = new Set([1005, 1006, 1015]);

/**
 * The close code a refusal told inside a socket ends with: core's error
 * table's, or — for one no endpoint may send — 1011 (internal error) for a
 * server-side status (5xx), else 1008 (policy violation).
 */
export function refusalCloseCode(error: BoardcastError): number {
  const { close, status } = ERROR_CODES[error.code];
  if (!RESERVED_CLOSE_CODES.has(close)) return close;
  return status >= 500 ? 1011 : 1008;
}

/**
 * The `error` envelope's body: `toJSON()` (code and message; `details` are
 * never sent unless chosen) plus `details.retryAfterMs` when the error names
 * a wait — what an HTTP answer carries as `Retry-After`, for a client that
 * would honour it.
 */
function envelope(error: BoardcastError): string {
  const retryAfterMs = (error.details as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  const told =
    typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
      ? { ...error.toJSON(), details: { retryAfterMs } }
      : error.toJSON();
  return `{"type":"error","error":${JSON.stringify(told)}}`;
}

/**
 * Browsers hide why an upgrade was refused: any HTTP refusal reaches the page
 * as close code 1006, exactly like a lost network, and the browser client's
 * plain-HTTP question then takes the answer for a proxy that drops upgrades
 * (`upgrade_failed`, stopping after two) — even for a refusal that only means
 * "later" (429, 503) or "our fault" (500). So for a browser (an `Origin`
 * header) that offered our subprotocol, every refusal is told inside the
 * WebSocket instead: the handshake completes, the socket carries one `error`
 * envelope and is closed with `refusalCloseCode` — the hub is never attached,
 * nothing else is sent, and a peer that does not finish the close is
 * terminated after `graceMs`. `done` runs once when that socket is gone (the
 * caller bounds how many live at once, in all and per address, and its
 * `close()` waits for them).
 * Returns false (nothing done) when the HTTP refusal should be sent instead.
 */
export function refuseInBand(
  wss: WebSocketServer,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  error: BoardcastError,
  offered: boolean,
  graceMs: number,
  done: () => void = () => undefined,
): boolean {
  if (!offered || request.headers.origin === undefined) return false;
  if (socket.destroyed) {
    done();
    return true;
  }
  try {
    // The refusal is over when its TCP socket is: after the WebSocket close,
    // a termination after graceMs, or a handshake ws answered with 400 itself.
    socket.once('close', done);
    wss.handleUpgrade(request, socket, head, (ws) => {
      const timer = setTimeout(() => ws.terminate(), graceMs);
      timer.unref?.();
      ws.once('close', () => clearTimeout(timer));
      ws.on('error', () => undefined);
      ws.send(envelope(error));
      ws.close(refusalCloseCode(error), error.code);
    });
  } catch {
    socket.destroy();
  }
  return true;
}
