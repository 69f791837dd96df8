import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BoardcastRequest } from '@boardcast/core';

export interface TokenAccessOptions {
  /** The shared secret. `undefined` or `''`: no token, every request is allowed (`required` false). */
  readonly token: string | undefined;
  /** Name of the session cookie, an RFC 6265 token (letters, digits, `!#$%&'*+-.^_\`|~`); a `TypeError` otherwise. */
  readonly cookieName: string;
  /** Lifetime of the session cookie in seconds, a positive integer (`RangeError` otherwise). Default 2592000 (30 days). */
  readonly maxAgeSeconds?: number;
}

/** A token check for pages and scripts; the app builds its `authorize` hook on {@link TokenAccess.allows}. */
export interface TokenAccess {
  /** True when a token is configured. */
  readonly required: boolean;
  /**
   * Whether a request carries the credential: `Authorization: Bearer <token>`
   * or the session cookie. Always true without a token. Takes core's
   * `BoardcastRequest` (what `authorize` gets, SSE or WebSocket) or anything
   * with a case-insensitive `header(name)`.
   */
  allows(request: Pick<BoardcastRequest, 'header'>): boolean;
  /**
   * Handles `GET`/`HEAD` of an address with `?token=` (node:http): with the
   * right token, sets the session cookie and answers 303 to the same address
   * without `token`, so it leaves the address bar and history; with a wrong
   * one, 401 (text). Returns false, writing nothing, for every other request
   * and when no token is configured. `url` defaults to `req.url`.
   */
  login(req: IncomingMessage, res: ServerResponse, url?: URL): boolean;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Access for holders of one shared token, with a session cookie for the page.
 * Opening `/?token=<token>` once (the address a server prints at start-up)
 * stores an `HttpOnly; SameSite=Strict; Path=/` cookie that the page's
 * same-origin `fetch`, `EventSource` and WebSocket carry by themselves
 * (`EventSource` cannot set headers), and that no script can read. The cookie
 * holds an HMAC-SHA256 of the token, not the token: it survives a restart with
 * the same token and stops working when the token changes. Scripts send
 * `Authorization: Bearer <token>`. Comparisons take the same time whatever
 * the input (HMAC digests of equal length, `timingSafeEqual`).
 *
 * The policy stays the app's:
 * `authorize: (request) => access.allows(request) ? { user: 'holder' } : false`
 * refuses everything without the credential (401); an app that lets anyone
 * watch returns `{ control: access.allows(request) }` and checks
 * `context.auth` in its state-changing commands.
 */
export function createTokenAccess(options: TokenAccessOptions): TokenAccess {
  const { cookieName, maxAgeSeconds = 30 * 24 * 3600 } = options;
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    throw new TypeError(
      `@boardcast/sse-server: cookieName must be an RFC 6265 token (got ${JSON.stringify(cookieName)})`,
    );
  }
  if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds <= 0) {
    throw new RangeError(
      `@boardcast/sse-server: maxAgeSeconds must be a positive integer (got ${String(maxAgeSeconds)})`,
    );
  }
  const secret = options.token || undefined;
  // Digests of equal length, so neither the token's content nor its length leaks through timing.
  const mac = (text: string) =>
    createHmac('sha256', secret ?? '')
      .update(text)
      .digest('base64url');
  const expected = secret ? mac(secret) : '';
  const session = secret ? mac(`${cookieName}:v1`) : '';
  const tokenMatches = (given: string) => secret !== undefined && equal(mac(given), expected);

  const allows = (request: Pick<BoardcastRequest, 'header'>): boolean => {
    if (!secret) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.header('authorization') ?? '');
    if (bearer?.[1] !== undefined && tokenMatches(bearer[1])) return true;
    const presented = cookie(request.header('cookie'), cookieName);
    return presented !== undefined && equal(presented, session);
  };

  return {
    required: secret !== undefined,
    allows,
    login(req, res, url = new URL(req.url ?? '/', 'http://localhost')) {
      if (!secret || !url.searchParams.has('token')) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (!tokenMatches(url.searchParams.get('token') ?? '')) {
        res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end('wrong token: open the address the server printed at start-up\n');
        return true;
      }
      const rest = new URLSearchParams(url.searchParams);
      rest.delete('token');
      const query = rest.toString();
      res.writeHead(303, {
        Location: `${url.pathname}${query ? `?${query}` : ''}`,
        'Set-Cookie': `${cookieName}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`,
        'Cache-Control': 'no-store',
      });
      res.end();
      return true;
    },
  };
}
