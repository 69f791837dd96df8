import type { ServerOptions, ServerResponse } from 'node:http';

/**
 * What every response of the demo carries. The page loads only its own
 * files (no CDN, no inline script or style), so the policy can be strict:
 * - `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for browsers
 *   without CSP 2): no other site can put the LED buttons in an invisible
 *   frame and have the user click them (clickjacking);
 * - `script-src 'self'` without `'unsafe-inline'`: an injected `<script>`
 *   or `onclick=` does not run;
 * - `connect-src 'self'`: SSE, `fetch` and the WebSocket only to this
 *   server (CSP 3 lets `'self'` match `ws:`/`wss:` on the same host);
 * - `nosniff`: a JSON answer is never run as a script;
 * - `no-referrer`: a `?token=` in the address bar never leaves in a
 *   `Referer` header.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const OWNED = new Set(Object.keys(SECURITY_HEADERS).map((name) => name.toLowerCase()));

/**
 * Set {@link SECURITY_HEADERS} on a response before any handler sees it, and
 * keep them: a handler further down (the static-file server, a library)
 * that passes its own `Content-Security-Policy` to `writeHead` would
 * otherwise replace the server's policy (Node lets `writeHead`'s headers win
 * over `setHeader`'s), dropping `frame-ancestors` without anyone noticing.
 */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const last = args[args.length - 1];
    if (last && typeof last === 'object' && !Array.isArray(last)) {
      const headers = Object.fromEntries(
        Object.entries(last as Record<string, unknown>).filter(([name]) => !OWNED.has(name.toLowerCase())),
      );
      args[args.length - 1] = headers;
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * Node's HTTP timeouts, in ms. Node's defaults (60 s for headers, 300 s for
 * a request, checked every 30 s) let 1,100 connections that trickle their
 * headers hold the server for minutes.
 */
export interface ServerTimeouts {
  /** Time a client has to send its complete request headers; then 408 and the socket is closed. Default 10000. */
  readonly headersTimeout: number;
  /**
   * Time a client has to send its complete request, body included; then 408.
   * Node measures it until the request is received, not while the response
   * streams, so an SSE stream that stays open for hours is not affected
   * (tested). Default 30000.
   */
  readonly requestTimeout: number;
  /** How long an idle keep-alive socket waits for its next request. Default 5000 (Node's). */
  readonly keepAliveTimeout: number;
  /** How often Node checks the two timeouts above; a slow client is closed at most this much late. Default 1000. */
  readonly connectionsCheckingInterval: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
};

/**
 * `http.createServer()` options with the timeouts filled in. Throws
 * `RangeError` for a value that is not a positive integer, or a
 * `headersTimeout` above `requestTimeout` (Node would refuse it later).
 */
export function serverOptions(timeouts: Partial<ServerTimeouts> = {}): ServerOptions {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  for (const [name, value] of Object.entries(t)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`timeouts.${name} must be a positive integer in ms (got ${String(value)})`);
    }
  }
  if (t.headersTimeout > t.requestTimeout) {
    throw new RangeError('timeouts.headersTimeout must not exceed timeouts.requestTimeout');
  }
  return {
    headersTimeout: t.headersTimeout,
    requestTimeout: t.requestTimeout,
    keepAliveTimeout: t.keepAliveTimeout,
    connectionsCheckingInterval: t.connectionsCheckingInterval,
  };
}

/**
 * Streams (SSE and WebSocket, counted per endpoint) one remote address may
 * hold. One browser opens one per tab; 50 leaves room for a household or an
 * office behind one NAT address while one host can no longer take all of
 * the 1,000 slots.
 */
export const STREAMS_PER_ADDRESS = 50;
