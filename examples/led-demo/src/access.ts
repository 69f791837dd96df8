import type { Authorize } from '@boardcast/core';
import { createTokenAccess, type TokenAccess } from '@boardcast/sse-server';

/** What the demo's `authorize` hook returns; reaches command handlers as `context.auth`. */
export interface DemoAuth {
  /** True when the request carried the page token (or none is configured). */
  readonly control: true;
}

/** The token check (`required`, `allows`, `login`: see sse-server's `createTokenAccess`) and the demo's policy. */
export interface Access extends TokenAccess {
  /**
   * The one hook the SSE stream, the HTTP commands and the WebSocket upgrade
   * all call: without a token configured every request passes; with one,
   * a request needs the session cookie or `Authorization: Bearer <token>`,
   * else 401 `unauthorized`. Watching and switching the LED are one right.
   */
  readonly authorize: Authorize;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'led_demo_session';

/**
 * Access to the demo: open (no token), or only for holders of `token`. The
 * page gets its own credential: opening the printed `/?token=…` address once
 * stores an `HttpOnly; SameSite=Strict` cookie (30 days) that its fetch,
 * EventSource and WebSocket carry by themselves; scripts send
 * `Authorization: Bearer <token>`.
 */
export function createAccess(token: string | undefined): Access {
  const tokens = createTokenAccess({ token, cookieName: SESSION_COOKIE });
  return {
    required: tokens.required,
    allows: tokens.allows,
    login: tokens.login,
    authorize: (request): DemoAuth | false => (tokens.allows(request) ? { control: true } : false),
  };
}
