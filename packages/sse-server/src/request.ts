import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Authorize as CoreAuthorize, BoardcastRequest as CoreRequest } from '@boardcast/core';
import type { HttpReply } from '@boardcast/core/server';

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

export function sendNode(res: ServerResponse, reply: HttpReply): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

export function toResponse(reply: HttpReply): Response {
  // 204 (a preflight's answer) must not have a body, not even an empty one.
  return new Response(reply.status === 204 ? null : reply.body, { status: reply.status, headers: reply.headers });
}
