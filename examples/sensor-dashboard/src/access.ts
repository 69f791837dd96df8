import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Authorize, BoardcastError, type BoardcastRequest, type CommandContext } from '@boardcast/core';

/** What the dashboard's `authorize` hook returns; reaches command handlers as `context.auth`. */
export interface DashboardAuth {
  /** May run state-changing commands (`set_alarm`, `inject`): carried the control token, or none is configured. */
  readonly control: boolean;
}

export interface Access {
  /** True when a control token is configured. */
  readonly required: boolean;
  /**
   * The one hook the SSE stream, the HTTP commands and the WebSocket upgrade
   * all call. It never refuses: watching the dashboard is open to anyone who
   * can reach it (a wall display needs no login). It answers whether the
   * request may change state, and {@link requireControl} enforces that in
   * each state-changing command, whichever transport the command came by.
   */
  readonly authorize: Authorize;
  /** Whether a request carries the control credential (always true without a token). */
  allows(request: Pick<BoardcastRequest, 'header'>): boolean;
  /**
   * `GET /?token=<token>` (or `/index.html?token=`): with the right token,
   * sets the session cookie and answers 303 to the same address without the
   * token (it leaves the address bar and history); with a wrong one, 401.
   * Returns false, writing nothing, for every other request.
   */
  login(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'dashboard_session';

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
 * Who may change the dashboard's state. Without a token, everyone who can
 * reach it (the default host is `127.0.0.1`). With one, a command needs
 * `Authorization: Bearer <token>` (scripts; the same scheme as ingest, but
 * its own secret, so a token stored on a sensor board cannot switch alarms
 * off) or the page's session cookie: opening the printed `/?token=…` address
 * once stores an `HttpOnly; SameSite=Strict` cookie that the page's
 * same-origin `fetch`, `EventSource` and WebSocket carry by themselves, and
 * that no script can read. It holds an HMAC of the token, not the token: it
 * survives a restart with the same token and dies when the token changes.
 */
export function createAccess(token: string | undefined): Access {
  const secret = token || undefined;
  // Digests of equal length, so neither the token's content nor its length leaks through timing.
  const mac = (text: string) =>
    createHmac('sha256', secret ?? '')
      .update(text)
      .digest('base64url');
  const expected = secret ? mac(secret) : '';
  const session = secret ? mac(`${SESSION_COOKIE}:v1`) : '';
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
    authorize: (request): DashboardAuth => ({ control: allows(request) }),
    allows,
    login(req, res, url) {
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
        'Set-Cookie': `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE}`,
        'Cache-Control': 'no-store',
      });
      res.end();
      return true;
    },
  };
}

/**
 * Call first in every state-changing command handler: throws 401
 * `unauthorized` unless the client's `authorize` result grants control.
 * Commands the server runs itself (`hub.call`, transport `local`) pass. A
 * hub served by transports without this module's hook refuses, so a new
 * transport cannot open the commands by accident.
 */
export function requireControl(context: Pick<CommandContext, 'transport' | 'auth'>): void {
  if (context.transport === 'local') return;
  if ((context.auth as Partial<DashboardAuth> | undefined)?.control === true) return;
  throw new BoardcastError(
    'unauthorized',
    'this command changes the dashboard: open the address with ?token= printed at start-up, or send Authorization: Bearer <control token>',
  );
}
