import { BoardcastError } from './errors.js';
import { credentialExpiry } from './expiry.js';
import type { Authorize, BoardcastRequest } from './request.js';

/** What {@link authorizeRequest} decided: the hook's answer, or the error to refuse with. */
export type AuthorizeOutcome =
  | { readonly ok: true; readonly auth: unknown }
  | { readonly ok: false; readonly error: BoardcastError };

/**
 * Run an endpoint's `authorize` hook the way every boardcast endpoint does
 * (SSE, commands, directory, WebSocket upgrade, telemetry routes):
 *
 * - no hook: allowed, `auth` is `undefined`;
 * - the hook answers `false`: 401 `unauthorized`;
 * - it answers a credential whose `expiresAt` (ms since the epoch, see
 *   `credentialExpiry`) is now or past: 401 `unauthorized` — an expired
 *   credential is no credential;
 * - it throws a `BoardcastError`: that error (a 403 `forbidden`, a 429 with
 *   `details.retryAfterMs`…);
 * - it throws anything else: a server fault, passed to `onError` and
 *   answered 500 `handler_failed` without its message (which may hold
 *   internals).
 *
 * Otherwise `auth` is what the hook returned (`context.auth`, `client.auth`).
 * Never rejects, not even when `onError` throws (that is ignored). `now`
 * is the clock for `expiresAt` (ms since the epoch), default `Date.now`.
 */
export async function authorizeRequest<Raw>(
  authorize: Authorize<Raw> | undefined,
  request: BoardcastRequest<Raw>,
  onError: (error: unknown) => void,
  now: () => number = Date.now,
): Promise<AuthorizeOutcome> {
  if (!authorize) return { ok: true, auth: undefined };
  try {
    const auth = await authorize(request);
    if (auth === false) return { ok: false, error: new BoardcastError('unauthorized', 'not authorized') };
    const expiresAt = credentialExpiry(auth);
    if (expiresAt !== undefined && expiresAt <= now()) {
      return { ok: false, error: new BoardcastError('unauthorized', 'the credential has expired') };
    }
    return { ok: true, auth };
  } catch (error) {
    if (error instanceof BoardcastError) return { ok: false, error };
    try {
      onError(error);
    } catch {
      // A reporter that fails must not turn a refusal into a rejection the endpoint never expects.
    }
    return { ok: false, error: new BoardcastError('handler_failed', 'authorization failed') };
  }
}
