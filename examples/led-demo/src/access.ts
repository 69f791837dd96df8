import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorize, BoardcastRequest } from '@boardcast/core';

/** What the demo's `authorize` hook returns; reaches command handlers as `context.auth`. */
export interface DemoAuth {
  /** True when the request carried the page token (or none is configured). */
  readonly control: true;
}

export interface Access {
  /** True when a token is configured, i.e. the demo is not open to everyone who can reach it. */
  readonly required: boolean;
  /**
   * The one hook the SSE stream, the HTTP commands and the WebSocket upgrade
   * all call: without a token configured every request passes; with one,
   * a request needs the session cookie or `Authorization: Bearer <token>`,
   * else 401 `unauthorized`.
   */
  readonly authorize: Authorize;
  /** Whether a request (any shape with `header()`) carries the credential. */
  allows(request: Pick<BoardcastRequest, 'header'>): boolean;
  /**
   * `GET /?token=<token>` (or `/index.html?token=`): with the right token,
   * sets the session cookie and answers 303 to the same address without the
   * token, so it leaves the address bar and history; with a wrong one, 401.
   * Returns false (and writes nothing) for every other request.
   */
  login(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'led_demo_session';

/** The session cookie lives 30 days (s). */
const COOKIE_MAX_AGE = 30 * 24 * 3600;

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
 * Access to the demo: open (no token), or only for holders of `token`. The
 * page gets its own credential: opening the printed `/?token=…` address
 * once stores an `HttpOnly; SameSite=Strict` cookie that same-origin
 * `fetch`, `EventSource` and WebSocket requests carry by themselves, so the
 * page code needs no change and scripts cannot read it. The cookie holds an
 * HMAC of the token, not the token: it survives a restart with the same
 * token and stops working when the token changes. Scripts send
 * `Authorization: Bearer <token>` instead.
 */
export function createAccess(token: string | undefined): Access {
  const secret = token || undefined;
  const session = secret ? createHmac('sha256', secret).update(`${SESSION_COOKIE}:v1`).digest('base64url') : '';

  // Digests of equal length, so neither the token's content nor its length leaks through timing.
  const mac = (text: string) =>
    createHmac('sha256', secret ?? '')
      .update(text)
      .digest('base64url');
  const expected = secret ? mac(secret) : '';
  const tokenMatches = (given: string) => secret !== undefined && equal(mac(given), expected);

  const allows = (request: Pick<BoardcastRequest, 'header'>): boolean => {
    if (!secret) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.header('authorization') ?? '');
    if (bearer?.[1] !== undefined && tokenMatches(bearer[1])) return true;
    const presented = cookie(request.header('cookie'), SESSION_COOKIE);
    return presented !== undefined && equal(presented, session);
  };

  return {
    required: secret !== undefined,
    authorize: (request): DemoAuth | false => (allows(request) ? { control: true } : false),
    allows,
    login(req, res, url) {
      if (!secret || !url.searchParams.has('token')) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const given = url.searchParams.get('token') ?? '';
      if (!tokenMatches(given)) {
        res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end('wrong token: open the address the server printed at start-up\n');
        return true;
      }
      const rest = new URLSearchParams(url.searchParams);
      rest.delete('token');
      const query = rest.toString();
      res.writeHead(303, {
        Location: `${url.pathname}${query ? `?${query}` : ''}`,
        'Set-Cookie': `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE}`,
        'Cache-Control': 'no-store',
      });
      res.end();
      return true;
    },
  };
}
