import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { BoardcastError, type Authorize as CoreAuthorize, type BoardcastRequest as CoreRequest } from '@boardcast/core';
import { retryAfterHeader } from '@boardcast/core/server';
import { credentialExpiry } from '@boardcast/core/wire';

/**
 * The request as the endpoints and the `authorize` hook see it: core's
 * transport-neutral shape, with `raw` the original `IncomingMessage` (from
 * `node(req, res)`) or `Request` (from `fetch(request)`).
 */
export type BoardcastRequest = CoreRequest<IncomingMessage | Request>;

/**
 * Decides whether a request may open the stream or run a command. Its return
 * value becomes `context.auth` for command handlers and `client.auth` for
 * streams. Return `false` (or throw `BoardcastError('unauthorized')`) for 401,
 * throw `BoardcastError('forbidden')` for 403. A hook typed with core's
 * `Authorize` (raw `unknown`) fits here and in ws-server alike.
 */
export type Authorize = CoreAuthorize<IncomingMessage | Request>;

/**
 * What the Node handlers take: node:http's request, or node:http2's
 * compatibility request (`createSecureServer((req, res) => api.node(req, res))`:
 * HTTP/2, which browsers speak only over TLS). Node types the two apart
 * though they offer what the handlers use.
 */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** node:http's response, or node:http2's compatibility response (see {@link NodeRequest}). */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** A complete non-streaming HTTP answer, built once and sent by either adapter. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
} as const;

export function jsonReply(status: number, body: string, headers?: Record<string, string>): Reply {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body };
}

/**
 * An error's JSON answer. A 429 or 503 whose error says how long to wait
 * (`details.retryAfterMs`) carries `Retry-After` (core's `retryAfterHeader`);
 * a `Retry-After` in `headers` (the stream's own for its capacity 503s) wins.
 */
export function errorReply(error: BoardcastError, headers?: Record<string, string>, status = error.status): Reply {
  return jsonReply(status, JSON.stringify(error.toBody()), { ...retryAfterHeader(error, status), ...headers });
}

export function sendNode(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

export function toResponse(reply: Reply): Response {
  // 204 (a preflight's answer) must not have a body, not even an empty one.
  return new Response(reply.status === 204 ? null : reply.body, { status: reply.status, headers: reply.headers });
}

export type AuthOutcome =
  | { readonly ok: true; readonly auth: unknown }
  | { readonly ok: false; readonly error: BoardcastError };

/**
 * Run the hook, mapping its answer to the auth value or an error. A hook
 * that crashes is a server fault (500), reported through `onError`, never
 * shown to the client. An answer whose `expiresAt` (ms since the epoch)
 * has passed is 401 `unauthorized`.
 */
export async function runAuthorize(
  authorize: Authorize | undefined,
  request: BoardcastRequest,
  onError: (error: unknown) => void,
): Promise<AuthOutcome> {
  if (!authorize) return { ok: true, auth: undefined };
  try {
    const auth = await authorize(request);
    if (auth === false) return { ok: false, error: new BoardcastError('unauthorized', 'not authorized') };
    // A credential that has already expired (`expiresAt` in the answer) is no credential.
    const expiresAt = credentialExpiry(auth);
    if (expiresAt !== undefined && expiresAt <= Date.now()) {
      return { ok: false, error: new BoardcastError('unauthorized', 'the credential has expired') };
    }
    return { ok: true, auth };
  } catch (error) {
    if (error instanceof BoardcastError) return { ok: false, error };
    onError(error);
    return { ok: false, error: new BoardcastError('handler_failed', 'authorization failed') };
  }
}
