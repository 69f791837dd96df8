import { type Authorize, BoardcastError, type CommandContext } from '@boardcast/core';
import { createTokenAccess, type TokenAccess } from '@boardcast/sse-server';

/** What the dashboard's `authorize` hook returns; reaches command handlers as `context.auth`. */
export interface DashboardAuth {
  /** May run state-changing commands (`set_alarm`, `inject`): carried the control token, or none is configured. */
  readonly control: boolean;
}

/**
 * Who may change the dashboard's state; watching is open to anyone who can
 * reach it (a wall display needs no login). Without a token, everyone may
 * (the default host is `127.0.0.1`). With one, a command needs
 * `Authorization: Bearer <token>` (scripts; the same scheme as ingest, but
 * its own secret, so a token stored on a sensor board cannot switch alarms
 * off) or the page's session cookie from opening the printed `/?token=…`
 * address once (sse-server's `createTokenAccess`: `HttpOnly;
 * SameSite=Strict`, 30 days). `authorize`, called by the SSE stream, the HTTP
 * commands and the WebSocket upgrade, never refuses: it records whether the
 * request may change state, and {@link requireControl} enforces that in each
 * state-changing command, whichever transport the command came by.
 */
export function createAccess(
  token: string | undefined,
  trustProxy?: readonly string[],
): TokenAccess & { readonly authorize: Authorize } {
  // trustProxy: wrong tokens are throttled per viewer behind the proxy, not per proxy.
  const tokens = createTokenAccess({ token, cookieName: 'dashboard_session', trustProxy });
  return { ...tokens, authorize: (request): DashboardAuth => ({ control: tokens.allows(request) }) };
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
