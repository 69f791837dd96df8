import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { BoardcastError } from '@boardcast/core';
import {
  type AllowedHosts,
  checkHost,
  createHostCheck,
  createProxyTrust,
  fromNodeRequest,
  type TrustProxy,
} from '@boardcast/core/server';
import { hostEnvironment } from './environment.js';

/**
 * The headers {@link setSecurityHeaders} sets by default: a strict policy for
 * an app whose pages load only their own files (no CDN, no inline script or
 * style).
 * - `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for browsers
 *   without CSP 2): no other site can put the page's controls in an
 *   invisible frame and have the user click them (clickjacking);
 * - `script-src 'self'` without `'unsafe-inline'`: an injected `<script>` or
 *   `onclick=` does not run;
 * - `connect-src 'self'`: SSE, `fetch` and WebSocket only to this server
 *   (CSP 3 lets `'self'` match `ws:`/`wss:` on the same host);
 * - `X-Content-Type-Options: nosniff`: a JSON answer is never run as a script;
 * - `Referrer-Policy: no-referrer`: a `?token=` in the address bar never
 *   leaves in a `Referer` header;
 * - `Cross-Origin-Opener-Policy: same-origin`: a page that opened this one
 *   gets no handle on it.
 *
 * A page that needs more (a CDN, inline styles) passes its own set, usually
 * `{ ...DEFAULT_SECURITY_HEADERS, 'Content-Security-Policy': '…' }`.
 */
export const DEFAULT_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
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
});

/**
 * Sets `headers` (default {@link DEFAULT_SECURITY_HEADERS}) on a Node
 * response, and keeps them: call it first, before any handler sees `res`.
 *
 * Why it keeps them: Node lets headers passed to `res.writeHead()` win over
 * `res.setHeader()`'s, so a handler further down (a static-file server, a
 * library) that passes its own `Content-Security-Policy` to `writeHead` would
 * otherwise replace the server's policy, dropping `frame-ancestors` without
 * anyone noticing. Headers of these names given to `writeHead` (as an object
 * or as Node's raw `[name, value, …]` array) are dropped,
 * names compared case-insensitively. A handler that means to change one says
 * so with `res.setHeader()` or `res.removeHeader()`, which still work.
 *
 * Throws `TypeError` for a header value that is not a string.
 */
export function setSecurityHeaders(
  res: ServerResponse,
  headers: Readonly<Record<string, string>> = DEFAULT_SECURITY_HEADERS,
): void {
  const owned = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') {
      throw new TypeError(`@boardcast/sse-server: security header ${name} must be a string`);
    }
    res.setHeader(name, value);
    owned.add(name.toLowerCase());
  }
  if (owned.size === 0) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const last = args.length > 1 ? args[args.length - 1] : undefined;
    if (last && typeof last === 'object') args[args.length - 1] = withoutOwned(last, owned);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

function withoutOwned(headers: object, owned: ReadonlySet<string>): unknown {
  const keep = (name: unknown) => typeof name !== 'string' || !owned.has(name.toLowerCase());
  if (!Array.isArray(headers)) {
    return Object.fromEntries(Object.entries(headers).filter(([name]) => keep(name)));
  }
  // Node's raw form: a flat [name, value, name, value, …].
  const flat: unknown[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (keep(headers[i])) flat.push(headers[i], headers[i + 1]);
  }
  return flat;
}

/**
 * Node's HTTP server timeouts, in ms. Node's defaults (60 s for headers,
 * 300 s for a request, checked every 30 s) let a thousand connections that
 * trickle their headers hold a server for minutes.
 */
export interface ServerTimeouts {
  /** Time a client has to send its complete request headers; then 408 and the socket is closed. Default 10000. */
  readonly headersTimeout: number;
  /**
   * Time a client has to send its complete request, body included; then 408.
   * Node measures it until the request is received, not while the response
   * streams, so an SSE stream that stays open for hours is not affected.
   * Default 30000.
   */
  readonly requestTimeout: number;
  /** How long an idle keep-alive socket waits for its next request. Default 5000 (Node's). */
  readonly keepAliveTimeout: number;
  /** How often Node checks the two timeouts above; a slow client is closed at most this much late. Default 1000. */
  readonly connectionsCheckingInterval: number;
}

/** The values {@link serverTimeouts} fills in: 10 s headers, 30 s request, 5 s keep-alive, checked every 1 s. */
export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = Object.freeze({
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
});

/**
 * Options for `http.createServer()` (or `https`) with the timeouts of
 * {@link DEFAULT_SERVER_TIMEOUTS}, each overridable:
 * `createServer({ ...serverTimeouts({ headersTimeout: 5000 }) }, handler)`.
 *
 * Throws `RangeError` for a value that is not a positive integer (ms), or a
 * `headersTimeout` above `requestTimeout` (Node would refuse it later, at
 * the first request).
 */
export function serverTimeouts(timeouts: Partial<ServerTimeouts> = {}): ServerOptions & ServerTimeouts {
  const t: ServerTimeouts = { ...DEFAULT_SERVER_TIMEOUTS, ...timeouts };
  for (const name of Object.keys(DEFAULT_SERVER_TIMEOUTS) as (keyof ServerTimeouts)[]) {
    const value = t[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`@boardcast/sse-server: ${name} must be a positive integer in ms (got ${String(value)})`);
    }
  }
  if (t.headersTimeout > t.requestTimeout) {
    throw new RangeError('@boardcast/sse-server: headersTimeout must not exceed requestTimeout');
  }
  return {
    headersTimeout: t.headersTimeout,
    requestTimeout: t.requestTimeout,
    keepAliveTimeout: t.keepAliveTimeout,
    connectionsCheckingInterval: t.connectionsCheckingInterval,
  };
}

/**
 * The `Host` check every boardcast endpoint applies, for an app's own routes
 * (its page, `/api/state`, an ingest route …): a page on a foreign name that
 * an attacker re-pointed at this server (DNS rebinding) is same-origin with
 * it, so only `Host` tells it apart. Same defaults and `allowedHosts` syntax
 * as the endpoints (core `createHostCheck`: IP literals, `localhost`,
 * `*.localhost`, this machine's name and `<name>.local`, plus the names and
 * `.domain`s given).
 *
 * Returns a function that answers, for a request, the 403 `forbidden_host`
 * error to send, or `undefined` when its `Host` is accepted. `trustProxy`
 * (core's `TrustProxy`, as for the endpoints): behind those proxies the
 * host checked is their `X-Forwarded-Host`.
 * @throws TypeError for an `allowedHosts` entry that is not a host name.
 */
export function createHostGuard(
  allowedHosts?: AllowedHosts,
  trustProxy?: TrustProxy,
): (req: IncomingMessage) => BoardcastError | undefined {
  const check = createHostCheck(allowedHosts, hostEnvironment());
  // Behind a trusted proxy the name to check is the one the client used (X-Forwarded-Host).
  const proxy = createProxyTrust(trustProxy);
  return (req) => checkHost(check, fromNodeRequest(req, proxy));
}
