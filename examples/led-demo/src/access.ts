import type { Authorize } from '@boardcast/core';
import { createTokenAccess, type TokenAccess } from '@boardcast/sse-server';

/** What the demo's `authorize` hook returns; reaches command handlers as `context.auth`. */
export interface DemoAuth {
  /** True when the request carried the page token (or none is configured). */
  readonly control: true;
}

/**
 * Access to the demo: open (no token), or only for holders of `token`;
 * watching and switching the LED are one right. The token check (`required`,
 * `allows`, `login`) is sse-server's `createTokenAccess`: opening the printed
 * `/?token=…` address once stores an `HttpOnly; SameSite=Strict` session
 * cookie (30 days) that the page's fetch, EventSource and WebSocket carry by
 * themselves; scripts send `Authorization: Bearer <token>`. `authorize` is
 * the one hook the SSE stream, the HTTP commands and the WebSocket upgrade
 * all call: without the credential, 401 `unauthorized`.
 */
export function createAccess(
  token: string | undefined,
  trustProxy?: readonly string[],
): TokenAccess & { readonly authorize: Authorize } {
  const tokens = createTokenAccess({ token, cookieName: 'led_demo_session', trustProxy });
  const authorize: Authorize = (request): DemoAuth | false => (tokens.allows(request) ? { control: true } : false);
  return { ...tokens, authorize };
}
