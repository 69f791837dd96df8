import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError } from '@boardcast/core';
import {
  type AuthorizeOutcome,
  authorizeRequest,
  checkRequest,
  type EndpointPolicy,
  type EndpointPolicyOptions,
  errorReply,
  fromFetchRequest,
  fromNodeRequest,
  type HttpReply,
  resolvePolicy,
} from '@boardcast/core/server';
import { type Cors, createCors, withHeaders } from './cors.js';
import { hostEnvironment } from './environment.js';
import type { AnyHub } from './hub-like.js';
import { type Authorize, type BoardcastRequest, sendNode, toResponse } from './request.js';

/**
 * The options the command and directory endpoints share (each adds its own).
 * `allowedOrigins` (default `'same-host'`; 403 `forbidden_origin`),
 * `allowMissingOrigin` (default true), `allowedHosts` (403 `forbidden_host`)
 * and `trustProxy` (default none) are core's endpoint policy options, with
 * the same names, defaults and normalization as the SSE and WebSocket
 * endpoints.
 */
export interface JsonEndpointOptions
  extends Pick<
    EndpointPolicyOptions<IncomingMessage | Request>,
    'allowedOrigins' | 'allowMissingOrigin' | 'allowedHosts' | 'trustProxy'
  > {
  /**
   * Who the client is, checked on every request: its value is the principal
   * (for commands, `context.auth` in handlers; for the directory, whom the
   * hub's access policy filters the page for).
   */
  readonly authorize?: Authorize;
  /** Extra headers on every response. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What the endpoint answers a request with; `crashed` when `run` throws (it never should). */
export interface JsonHandler {
  run(info: BoardcastRequest): Promise<HttpReply>;
  crashed(error: unknown, info: BoardcastRequest): HttpReply;
}

/**
 * The request plumbing the command and directory endpoints share: one
 * policy (Host, Origin, trusted proxies), CORS, the checks every request
 * passes before its own work, `authorize`, and the Node and fetch adapters
 * (CORS headers on every answer, a throw turned into `crashed`'s reply).
 */
export interface JsonEndpoint {
  readonly policy: EndpointPolicy<IncomingMessage | Request>;
  /** The operator's extra headers (`options.headers`). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Host and Origin (core's `checkRequest`), the CORS preflight, the method:
   * the reply when the request stops here (through `refuse`, so it is
   * reported), else `undefined`.
   */
  screen(
    info: BoardcastRequest,
    refuse: (error: BoardcastError, headers?: Record<string, string>) => HttpReply,
  ): HttpReply | undefined;
  /** The endpoint's `authorize`; a throw that is not a `BoardcastError` is reported as the hub's `error` event. */
  authorize(info: BoardcastRequest): Promise<AuthorizeOutcome>;
  /** An error answer with the operator's headers (and `headers`, e.g. `Allow`). */
  error(error: BoardcastError, headers?: Record<string, string>): HttpReply;
  /**
   * Serve a Node request. `closeUnread`: an unread (refused) body must not be
   * parsed as the next request, so such an answer closes the HTTP/1 connection.
   */
  node(req: IncomingMessage, res: ServerResponse, handler: JsonHandler, closeUnread: boolean): void;
  /** Serve a fetch `Request`; `remoteAddress` is the peer the adapter knows. */
  fetch(request: Request, remoteAddress: string | undefined, handler: JsonHandler): Promise<Response>;
}

/** `where` names the endpoint in option errors; `method` is the one it serves (`OPTIONS` aside). */
export function jsonEndpoint(
  hub: AnyHub,
  where: string,
  method: 'GET' | 'POST',
  options: JsonEndpointOptions,
): JsonEndpoint {
  const policy = resolvePolicy(
    where,
    {
      allowedOrigins: options.allowedOrigins,
      allowMissingOrigin: options.allowMissingOrigin,
      allowedHosts: options.allowedHosts,
      trustProxy: options.trustProxy,
    },
    hostEnvironment(),
  );
  const headers = options.headers ?? {};
  const cors: Cors = createCors(policy.allowedOrigins, method);
  return {
    policy,
    headers,
    screen(info, refuse) {
      const refused = checkRequest(policy, info);
      if (refused) return refuse(refused);
      if (info.method === 'OPTIONS') return cors.preflight(info);
      if (info.method !== method) {
        const error = new BoardcastError('method_not_allowed', `${info.method} is not allowed; use ${method}`);
        return refuse(error, { Allow: `${method}, OPTIONS` });
      }
      return undefined;
    },
    authorize: (info) =>
      authorizeRequest(options.authorize, info, (error) => hub.emit('error', error, 'sse-server authorize')),
    error: (error, extra) => errorReply(error, { ...headers, ...extra }),
    node(req, res, handler, closeUnread) {
      const info = fromNodeRequest(req, policy.proxy);
      handler.run(info).then(
        (reply) => {
          // (HTTP/1 only: HTTP/2 has no Connection header, and its streams end on their own.)
          if (closeUnread && !req.readableEnded && req.httpVersionMajor === 1) res.setHeader('Connection', 'close');
          sendNode(res, withHeaders(reply, cors.headers(info)));
        },
        (error) => sendNode(res, withHeaders(handler.crashed(error, info), cors.headers(info))),
      );
    },
    async fetch(request, remoteAddress, handler) {
      const info = fromFetchRequest(request, policy.proxy, remoteAddress);
      let reply: HttpReply;
      try {
        reply = await handler.run(info);
      } catch (error) {
        reply = handler.crashed(error, info);
      }
      return toResponse(withHeaders(reply, cors.headers(info)));
    },
  };
}
